// Resource limits for sandboxed programs, applied with util-linux's `prlimit` in front of
// bwrap (the limits are inherited by everything the program starts).
import { readFileSync } from "node:fs";
import os from "node:os";
import { findOnPath } from "./which.js";

export interface ResourceLimits {
  /** RLIMIT_CPU: CPU seconds per process (SIGXCPU, then SIGKILL). */
  cpuSeconds: number;
  /** RLIMIT_AS: address space per process, in bytes. */
  memoryBytes: number;
  /** RLIMIT_NPROC: processes (and threads) the sandbox may add. */
  processes: number;
  /** RLIMIT_FSIZE: largest file a process may write, in bytes. */
  fileBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: ResourceLimits = {
  // A backstop behind the wall-clock timeout: the longest timeout on every core.
  cpuSeconds: 600 * Math.max(1, os.availableParallelism()),
  memoryBytes: 4096 * MiB,
  processes: 256,
  fileBytes: 1024 * MiB,
};

/** The variables that override DEFAULT_LIMITS, with their unit. */
export const LIMIT_VARIABLES = {
  FLAKEBOT_LIMIT_CPU_SECONDS: "cpuSeconds",
  FLAKEBOT_LIMIT_MEMORY_MB: "memoryBytes",
  FLAKEBOT_LIMIT_PROCESSES: "processes",
  FLAKEBOT_LIMIT_FILE_MB: "fileBytes",
} as const;

/** DEFAULT_LIMITS with FLAKEBOT_LIMIT_* overrides; throws a clear error on a bad value. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): ResourceLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, field] of Object.entries(LIMIT_VARIABLES)) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) {
      throw new Error(`${name}="${text}" is not a positive whole number`);
    }
    limits[field] = name.endsWith("_MB") ? n * MiB : n;
  }
  return limits;
}

/** `limits` with the CPU backstop fitted to a wall-clock timeout (every core, for all of it). */
export function limitsForTimeout(timeoutMs: number, limits: ResourceLimits = DEFAULT_LIMITS): ResourceLimits {
  const cores = Math.max(1, os.availableParallelism());
  const cpuSeconds = Math.ceil(timeoutMs / 1000) * cores + 1;
  return { ...limits, cpuSeconds: Math.min(limits.cpuSeconds, cpuSeconds) };
}

let prlimitPath: string | null | undefined;

/** The prlimit executable on PATH, or null. */
export function findPrlimit(): string | null {
  if (prlimitPath === undefined) prlimitPath = findOnPath("prlimit");
  return prlimitPath;
}

/**
 * Every task (process or thread) on the machine now, from /proc/loadavg. RLIMIT_NPROC counts
 * all of the real user's tasks, not just the sandbox's, so a sandbox that runs as the
 * server's own user gets this many plus its budget.
 */
export function tasksOnMachine(): number {
  try {
    const fields = readFileSync("/proc/loadavg", "utf8").split(" ");
    const total = Number(fields[3]?.split("/")[1]);
    return Number.isFinite(total) ? total : 0;
  } catch {
    return 0;
  }
}

export interface PrlimitOptions {
  /**
   * The sandboxed program runs as a user of its own (no other processes), so the process
   * budget is absolute. Otherwise the budget comes on top of the tasks already running.
   */
  ownUser: boolean;
}

/** `prlimit --cpu=.. --as=.. --nproc=.. --fsize=.. --`, or [] when prlimit is missing. */
export function prlimitArgv(limits: ResourceLimits, opts: PrlimitOptions): string[] {
  const prlimit = findPrlimit();
  if (!prlimit) return [];
  const nproc = opts.ownUser ? limits.processes : tasksOnMachine() + limits.processes;
  return [
    prlimit,
    `--cpu=${limits.cpuSeconds}`,
    `--as=${limits.memoryBytes}`,
    `--nproc=${nproc}`,
    `--fsize=${limits.fileBytes}`,
    "--",
  ];
}
