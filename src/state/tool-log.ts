// A craft's build log: appended to the tool's build.log and kept as a live tail in memory.
import fs from "node:fs";
import { redactSecrets } from "../exec/env.js";

/** A log file grows to this size, then moves to `<file>.1` (replacing the one before). */
export const LOG_CAP_BYTES = 8 * 1024 * 1024;

export class ToolLog {
  private readonly tail: string[] = [];
  private stream?: fs.WriteStream;
  /** Bytes in the file as far as this writer knows (another writer may add to it too). */
  private size = 0;
  /** The inode this writer appends to: a different one at the path means another writer rotated. */
  private inode?: number;

  constructor(
    private file: string,
    private readonly keep = 200,
    private readonly capBytes = LOG_CAP_BYTES,
  ) {}

  write(line: string): void {
    const clean = redactSecrets(line).slice(0, 4000);
    this.tail.push(clean);
    if (this.tail.length > this.keep) this.tail.shift();
    if (this.size >= this.capBytes) this.rotate();
    const stream = this.stream ?? this.open();
    if (!stream) return; // cannot open it now (a full disk, a vanished directory): the next line tries again
    stream.write(clean + "\n");
    this.size += Buffer.byteLength(clean) + 1;
  }

  private open(): fs.WriteStream | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.file, "a", 0o600);
    } catch {
      return undefined;
    }
    const stat = fs.fstatSync(fd);
    this.inode = stat.ino;
    this.size = stat.size;
    const stream = fs.createWriteStream("", { fd });
    // A full disk or a vanished directory (dispose) must not crash us: the next line opens
    // the file again, so logging resumes when space returns.
    stream.on("error", () => {
      if (this.stream === stream) this.stream = undefined;
    });
    this.stream = stream;
    return stream;
  }

  /** Moves the full file to <file>.1, unless another writer of the same log already did. */
  private rotate(): void {
    this.stream?.end();
    this.stream = undefined;
    let current: number | undefined;
    try {
      current = fs.statSync(this.file).ino;
    } catch {
      current = undefined; // gone (disposed): the next write starts a new file
    }
    if (current !== undefined && current === this.inode) {
      try {
        fs.renameSync(this.file, `${this.file}.1`);
      } catch {
        // gone meanwhile
      }
    }
    this.size = 0;
  }

  /** The file was moved (a craft renamed after its crate): the open stream follows it, and so does the next open. */
  moveTo(file: string): void {
    this.file = file;
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
