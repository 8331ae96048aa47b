// After a crash, the dead server's build processes may still run in a craft's workspace
// (they were in process groups of their own). Recovery finds them by their working
// directory under /proc and ends them, so nothing writes into a workspace being removed.
import fs from "node:fs/promises";

export async function killProcessesUnder(dir: string): Promise<number[]> {
  const killed: number[] = [];
  let entries: string[];
  try {
    entries = await fs.readdir("/proc");
  } catch {
    return killed; // no /proc on this system
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = await fs.readlink(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) {
        process.kill(Number(entry), "SIGKILL");
        killed.push(Number(entry));
      }
    } catch {
      // gone already, or not ours
    }
  }
  return killed;
}
