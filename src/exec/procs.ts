// What this machine's /proc says about processes: whether one is alive, which run in a
// directory, and the tree below this server. Recovery ends a dead server's build processes
// by their working directory; a service is asked to stop by signalling the innermost
// processes of its tree (signalling a bwrap wrapper would SIGKILL the program through
// --die-with-parent instead of letting it stop cleanly).
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";

interface ProcInfo {
  ppid: number;
  cwd: string;
  state: string;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

async function readProc(pid: number): Promise<ProcInfo | undefined> {
  try {
    const fields = statFields(await fs.readFile(`/proc/${pid}/stat`, "utf8"));
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => "");
    return { ppid: Number(fields[1]), cwd, state: fields[0] };
  } catch {
    return undefined;
  }
}

async function allProcesses(): Promise<Map<number, ProcInfo>> {
  const out = new Map<number, ProcInfo>();
  let entries: string[] = [];
  try {
    entries = await fs.readdir("/proc");
  } catch {
    return out; // no /proc on this system
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const info = await readProc(Number(e));
    if (info) out.set(Number(e), info);
  }
  return out;
}

/**
 * A process as an owner record names it: its pid plus its start time, because a pid alone
 * is reused (a restarted container's server is PID 1 again, and a dead craft's owner_pid 1
 * would look like its own).
 */
export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); absent in older records. */
  start?: string;
}

function statOf(pid: number): string[] | undefined {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

let self: ProcessRef | undefined;

/** This process, as an owner record names it. */
export function selfRef(): ProcessRef {
  self ??= { pid: process.pid, start: statOf(process.pid)?.[22 - 3] };
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

/** Whether the process a record names still runs: same pid, same start time, not a zombie. */
export function alive(ref: ProcessRef | undefined): boolean {
  if (!ref || !Number.isInteger(ref.pid) || ref.pid <= 0) return false;
  if (ref.pid === process.pid) return isSelf(ref);
  try {
    process.kill(ref.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const fields = statOf(ref.pid);
  if (!fields) return true; // no /proc: signal 0 is all there is
  if (fields[0] === "Z") return false; // killed, not yet reaped by its parent
  return ref.start === undefined || fields[22 - 3] === ref.start;
}

/** Processes (other than this one) whose working directory is `dir` or below it. */
export async function processesUnder(dir: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  for (const [pid, p] of await allProcesses()) {
    if (pid === process.pid || !(p.cwd === dir || p.cwd.startsWith(dir + "/"))) continue;
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").then((t) => t.split("\0").join(" ").trim(), () => "");
    found.push({ pid, cmd });
  }
  return found;
}

export async function killProcessesUnder(dir: string): Promise<number[]> {
  const pids = (await processesUnder(dir)).map((p) => p.pid);
  return signalAll(pids, "SIGKILL");
}

/**
 * The innermost processes of the tree this server started in `cwd` (a service's scratch
 * directory): the program itself, below any sandbox wrapper.
 */
export async function leavesStartedIn(cwd: string): Promise<number[]> {
  const procs = await allProcesses();
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const roots = (children.get(process.pid) ?? []).filter((pid) => procs.get(pid)?.cwd === cwd);
  const leaves: number[] = [];
  const walk = (pid: number) => {
    const kids = children.get(pid) ?? [];
    if (kids.length === 0) leaves.push(pid);
    for (const k of kids) walk(k);
  };
  roots.forEach(walk);
  return leaves;
}

/** Sends `signal` to each pid; returns those it reached. */
export function signalAll(pids: number[], signal: NodeJS.Signals): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false; // gone already
    }
  });
}
