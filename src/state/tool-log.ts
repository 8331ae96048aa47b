// A craft's build log: appended to the tool's build.log and kept as a live tail in memory.
import fs from "node:fs";
import { redactSecrets } from "../exec/env.js";

export class ToolLog {
  private readonly tail: string[] = [];
  private stream?: fs.WriteStream;

  constructor(
    private readonly file: string,
    private readonly keep = 200,
  ) {}

  write(line: string): void {
    const clean = redactSecrets(line).slice(0, 4000);
    this.tail.push(clean);
    if (this.tail.length > this.keep) this.tail.shift();
    if (!this.stream) {
      this.stream = fs.createWriteStream(this.file, { flags: "a", mode: 0o600 });
      this.stream.on("error", () => {}); // a vanished directory (dispose) must not crash us
    }
    this.stream.write(clean + "\n");
  }

  lastLine(): string | undefined {
    return this.tail.at(-1);
  }

  lines(n: number): string[] {
    return this.tail.slice(-n);
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (s ? s.end(resolve) : resolve()));
  }
}

/** The last `n` lines of a log file on disk (reads only its end). */
export async function readLogTail(file: string, n: number, maxBytes = 64 * 1024): Promise<string[]> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, "r");
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    return buf.toString("utf8").split("\n").filter(Boolean).slice(-n);
  } finally {
    await handle.close();
  }
}
