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

/** Whether `pid` is a live process (a killed one not yet reaped by its parent is not). */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, "utf8"))[0] !== "Z";
  } catch {
    return true; // no /proc: signal 0 is all there is
  }
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
