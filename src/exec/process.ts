// The one helper that runs every external process: git, cargo, nix, bwrap and crafted
// binaries. argv arrays only (never a shell), a timeout and an AbortSignal that kill the
// whole process group, a capped capture of output, every live process killed on shutdown,
// and the policy of the process's kind (policy.ts) applied to its argv and environment.
import { execa } from "execa";
import { policyArgv, policyEnv, type ProcessKind } from "./policy.js";

export type { ProcessKind } from "./policy.js";

export interface RunOptions {
  /** What runs: it chooses the policy (environment, settings) the process gets. Every call in src/ names it. */
  kind?: ProcessKind;
  cwd: string;
  /** The whole environment; the kind's own (policy.ts) when absent. */
  env?: Record<string, string>;
  /** Milliseconds before the process group is killed. */
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string | Buffer;
  /** Bytes kept of stdout and of stderr each; the rest is counted and dropped. */
  maxOutputBytes?: number;
  /** Past this many bytes of output in all, the process is killed (a flood). */
  killAfterOutputBytes?: number;
  /** Called with every complete line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface RunResult {
  argv: string[];
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  floodKilled: boolean;
  durationMs: number;
}

export class ProcessError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = "ProcessError";
  }
}

const DEFAULT_CAP = 1024 * 1024;
const live = new Set<number>();

function killGroup(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every process group this server started and that is still running. */
export function killAllChildren(): void {
  for (const pid of live) killGroup(pid);
  live.clear();
}

/** Number of process groups still running (for tests and shutdown checks). */
export function liveChildren(): number {
  return live.size;
}

class Capture {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  private partial = "";
  constructor(
    private readonly cap: number,
    private readonly onLine?: (line: string) => void,
  ) {}
  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept < this.cap) {
      const take = chunk.subarray(0, this.cap - this.kept);
      this.chunks.push(take);
      this.kept += take.length;
    }
    if (this.onLine) {
      const lines = (this.partial + chunk.toString("utf8")).split("\n");
      this.partial = lines.pop() ?? "";
      if (this.partial.length > 65536) this.partial = this.partial.slice(-65536);
      for (const line of lines) this.onLine(line);
    }
  }
  end(): void {
    if (this.onLine && this.partial) this.onLine(this.partial);
    this.partial = "";
  }
  get truncated(): boolean {
    return this.total > this.kept;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

export async function runProcess(command: string[], opts: RunOptions): Promise<RunResult> {
  if (command.length === 0 || !command[0]) throw new Error("runProcess: empty argv");
  const kind = opts.kind ?? "probe";
  const argv = policyArgv(kind, command);
  const started = performance.now();
  const cap = opts.maxOutputBytes ?? DEFAULT_CAP;
  const floodLimit = opts.killAfterOutputBytes ?? Number.POSITIVE_INFINITY;
  const out = new Capture(cap, opts.onLine && ((l) => opts.onLine!(l, "stdout")));
  const err = new Capture(cap, opts.onLine && ((l) => opts.onLine!(l, "stderr")));
  let timedOut = false;
  let aborted = false;
  let floodKilled = false;

  const child = execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? policyEnv(kind),
    extendEnv: false,
    detached: true,
    cleanup: true,
    buffer: false,
    reject: false,
    stripFinalNewline: false,
    stdin: opts.stdin === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const pid = child.pid;
  if (pid) live.add(pid);

  const kill = () => killGroup(pid);
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs)
    : undefined;
  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  const watch = (cap: Capture) => (chunk: Buffer) => {
    cap.push(chunk);
    if (!floodKilled && out.total + err.total > floodLimit) {
      floodKilled = true;
      kill();
    }
  };
  child.stdout?.on("data", watch(out));
  child.stderr?.on("data", watch(err));
  if (opts.stdin !== undefined && child.stdin) {
    child.stdin.on("error", () => {}); // the child may exit without reading its input
    child.stdin.end(opts.stdin);
  }

  const result = await child;
  // The group may hold grandchildren that outlive the leader: end them too.
  killGroup(pid);
  if (pid) live.delete(pid);
  if (timer) clearTimeout(timer);
  opts.signal?.removeEventListener("abort", onAbort);
  out.end();
  err.end();

  const spawnFailed = result.exitCode === undefined && !result.signal;
  return {
    argv: command,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? undefined,
    stdout: out.text(),
    stderr: spawnFailed && !err.total ? spawnFailure(argv[0], result.cause) : err.text(),
    truncated: out.truncated || err.truncated,
    timedOut,
    aborted,
    floodKilled,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Why a program could not start, without the command line (it may be megabytes of argv). */
function spawnFailure(program: string, cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const why = code === "E2BIG" ? "E2BIG, the argument list is too long" : (code ?? (cause as Error | undefined)?.message ?? "unknown error");
  return `could not start ${program.slice(0, 200)}: ${why.slice(0, 500)}`;
}

/** runProcess that throws a ProcessError carrying the output unless the exit code is 0. */
export async function runChecked(argv: string[], opts: RunOptions): Promise<RunResult> {
  const r = await runProcess(argv, opts);
  if (r.exitCode !== 0) {
    const why = r.aborted
      ? "was cancelled"
      : r.timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : r.signal
          ? `was killed by ${r.signal}`
          : `exited with code ${r.exitCode}`;
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n");
    throw new ProcessError(`${argv.slice(0, 3).join(" ")} ${why}${tail ? `:\n${tail}` : ""}`, r);
  }
  return r;
}
