// Running a crafted binary for a caller: argv only, its own scratch directory as cwd and
// HOME, a minimal environment, a timeout that kills the whole process group, capped output,
// and bubblewrap around it when the sandbox is on. Its output is for an agent: the program is
// told not to colour it (NO_COLOR, CLICOLOR=0, TERM=dumb) and any escape sequences left are
// removed, unless the caller asks for the raw bytes (`raw_output`).
import { mkdir } from "node:fs/promises";
import { runProcess } from "./process.js";
import { craftedEnv } from "./env.js";
import { sandboxArgv, type SandboxSpec } from "./sandbox.js";
import { limitsForTimeout } from "./limits.js";
import type { InvokeOutput } from "../model/invoke.js";

export type { InvokeOutput } from "../model/invoke.js";

export const DEFAULT_TIMEOUT_MS = 60_000;
export const MAX_TIMEOUT_MS = 600_000;
/** Input text (stdin, a request body) stays below the 10 MiB a JSON-RPC message may be. */
export const STDIN_MAX_CHARS = 8 * 1024 * 1024;
export const OUTPUT_CAP_BYTES = 1024 * 1024;
/** Past this much output in all the program is stopped: a flood, not a result. */
export const FLOOD_LIMIT_BYTES = 64 * 1024 * 1024;

export interface InvokeInput {
  args?: string[];
  stdin?: string;
  timeout_ms?: number;
  /** Keep escape sequences (colours, cursor moves) in stdout and stderr. */
  raw_output?: boolean;
}

export interface InvokeTarget {
  binary: string;
  scratch: string;
  sandboxed: boolean;
  signal?: AbortSignal;
  /** More of the sandbox: directories to hide (FLAKEBOT_HOME), limits, writable roots. */
  sandbox?: Omit<SandboxSpec, "scratch">;
}

/** Arguments the kernel cannot pass (E2BIG): refused before anything starts. */
export class ArgumentsTooLong extends Error {}

// Linux passes at most 128 KiB per argument and, with the usual 8 MiB stack, 2 MiB of
// argv plus environment; the sandbox's own wrapper arguments need some of that.
const ARG_MAX_BYTES = 128 * 1024;
const ARGV_MAX_BYTES = 1792 * 1024;

function checkArgvSize(args: string[]): void {
  let total = 0;
  for (const [i, a] of args.entries()) {
    const bytes = Buffer.byteLength(a) + 1;
    if (bytes > ARG_MAX_BYTES) {
      throw new ArgumentsTooLong(`argument ${i + 1} is ${Math.ceil(bytes / 1024)} KiB; the kernel passes at most 128 KiB per argument (E2BIG, "Argument list too long"): pass large input through stdin, or as a file the tool can read`);
    }
    total += bytes + 8;
  }
  if (total > ARGV_MAX_BYTES) {
    throw new ArgumentsTooLong(
      `the arguments are ${(total / 1024 / 1024).toFixed(1)} MiB in all (${args.length} arguments); the kernel passes a program at most about ${(ARGV_MAX_BYTES / 1024 / 1024).toFixed(2)} MiB of arguments (E2BIG, "Argument list too long"): pass large input through stdin, or as a file the tool can read`,
    );
  }
}

export async function invokeBinary(target: InvokeTarget, input: InvokeInput): Promise<InvokeOutput> {
  checkArgvSize(input.args ?? []);
  await mkdir(target.scratch, { recursive: true });
  const argv = [target.binary, ...(input.args ?? [])];
  const timeoutMs = input.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  // CPU time is capped to what the timeout allows anyway, so a spin cannot outlast it.
  const { limits, ...rest } = target.sandbox ?? {};
  const spec: SandboxSpec = { ...rest, scratch: target.scratch, limits: limits === false ? false : limitsForTimeout(timeoutMs, limits) };
  const r = await runProcess(target.sandboxed ? sandboxArgv(argv, spec) : argv, {
    kind: "crafted",
    cwd: target.scratch,
    env: craftedEnv(target.scratch, { NO_COLOR: "1", CLICOLOR: "0", TERM: "dumb" }),
    timeoutMs,
    stdin: input.stdin ?? "",
    signal: target.signal,
    maxOutputBytes: OUTPUT_CAP_BYTES,
    killAfterOutputBytes: FLOOD_LIMIT_BYTES,
  });
  return {
    exit_code: r.exitCode,
    ...(r.signal ? { signal: r.signal } : {}),
    stdout: input.raw_output ? r.stdout : stripEscapes(r.stdout),
    stderr: input.raw_output ? r.stderr : stripEscapes(r.stderr),
    truncated: r.truncated || r.floodKilled,
    timed_out: r.timedOut,
    duration_ms: r.durationMs,
  };
}

/** ANSI/VT escape sequences: CSI (colours, cursor), OSC (titles, links), charset and two-byte ones. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]/g;

/** The text with its terminal escape sequences removed. */
export function stripEscapes(text: string): string {
  return text.includes("\x1b") || text.includes("\x9b") ? text.replace(ESCAPES, "") : text;
}
