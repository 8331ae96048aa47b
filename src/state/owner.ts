// Which process owns a craft or a service: its pid plus the process's start time, because a
// pid alone is reused (a restarted container's server is PID 1 again, and a dead craft's
// owner_pid 1 would look like its own) and a killed process stays a zombie until reaped.
import { readFileSync } from "node:fs";

export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); absent in older records. */
  start?: string;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name in parentheses may itself hold spaces and parentheses; fields 3.. follow it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The process's start time, or undefined when there is no such process (or no /proc). */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[22 - 3];
}

let self: ProcessRef | undefined;

/** This process, as an owner record names it. */
export function selfRef(): ProcessRef {
  self ??= { pid: process.pid, start: processStart(process.pid) };
  return self;
}

/** Whether `ref` is this very process (not merely one with the same pid). */
export function isSelf(ref: ProcessRef): boolean {
  const me = selfRef();
  if (ref.pid !== me.pid) return false;
  // Without /proc there is only the pid to go by; with it, a record without a start time
  // that names our pid was written by an earlier process that had it.
  return me.start === undefined || ref.start === me.start;
}

/** Whether the process a record names is still running: same pid, same start time, not a zombie. */
export function ownerAlive(ref: ProcessRef | undefined): boolean {
  if (!ref || !Number.isInteger(ref.pid) || ref.pid <= 0) return false;
  if (ref.pid === process.pid) return isSelf(ref);
  try {
    process.kill(ref.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const fields = statFields(ref.pid);
  if (!fields) return true; // no /proc to tell: the signal said it runs
  if (fields[0] === "Z") return false;
  return ref.start === undefined || fields[22 - 3] === ref.start;
}
