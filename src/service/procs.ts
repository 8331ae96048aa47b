// Finding a running service's processes under /proc, so it can be asked to stop (SIGTERM)
// before it is killed: runProcess owns the process and kills only with SIGKILL. Under
// bwrap, signalling the wrapper would SIGKILL the program (--die-with-parent) instead of
// letting it stop cleanly, so the signal goes to the innermost processes of the tree.
import fs from "node:fs/promises";

async function readProc(pid: number): Promise<{ ppid: number; cwd: string } | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    // The command name in parentheses may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => "");
    return { ppid: Number(fields[1]), cwd };
  } catch {
    return undefined;
  }
}

async function allProcesses(): Promise<Map<number, { ppid: number; cwd: string }>> {
  const out = new Map<number, { ppid: number; cwd: string }>();
  let entries: string[] = [];
  try {
    entries = await fs.readdir("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const info = await readProc(Number(e));
    if (info) out.set(Number(e), info);
  }
  return out;
}

/**
 * The innermost processes of the tree this server started in `cwd` (the service's scratch
 * directory): the program itself, below any sandbox wrapper.
 */
export async function serviceLeaves(cwd: string): Promise<number[]> {
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

export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}
