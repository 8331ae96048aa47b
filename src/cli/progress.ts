// `flakebot craft`'s progress on stderr: a live line on a terminal (stage, elapsed time,
// the current message), plain lines otherwise.
import type { Craft } from "../model/craft.js";

export class ProgressDisplay {
  private started = Date.now();
  private timer?: NodeJS.Timeout;
  private last = "";
  private lastStage?: string;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  private get live(): boolean {
    return this.stream.isTTY === true;
  }

  private elapsed(): string {
    const s = Math.round((Date.now() - this.started) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  private render(): void {
    const width = (this.stream.columns ?? 100) - 1;
    this.stream.write(`\r\x1b[K${`[${this.elapsed()}] ${this.last}`.slice(0, width)}`);
  }

  start(craft: Craft): void {
    this.started = Date.now();
    this.update(craft, craft.message);
    if (this.live) this.timer = setInterval(() => this.render(), 1000);
  }

  update(craft: Craft, note: string): void {
    this.last = `${craft.name} ${craft.stage ?? "queued"}: ${note}`;
    if (this.live) this.render();
    else if (craft.stage !== this.lastStage || note !== craft.message) this.stream.write(`[${this.elapsed()}] ${this.last}\n`);
    this.lastStage = craft.stage;
  }

  finish(craft: Craft): void {
    if (this.timer) clearInterval(this.timer);
    if (this.live) this.stream.write("\r\x1b[K");
    this.stream.write(`[${this.elapsed()}] ${craft.name}: ${craft.status}\n`);
  }
}
