// After a crash, the dead server's build processes may still run in a craft's workspace
// (they were in process groups of their own). Recovery finds them by their working
// directory under /proc and ends them, so nothing writes into a workspace being removed.
import fs from "node:fs/promises";

/** Processes (other than this one) whose working directory is `dir` or below it. */
export async function processesUnder(dir: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  let entries: string[];
  try {
    entries = await fs.readdir("/proc");
  } catch {
    return found; // no /proc on this system
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = await fs.readlink(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) {
        const cmd = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" ").trim();
        found.push({ pid: Number(entry), cmd });
      }
    } catch {
      // gone already, or not ours
    }
  }
  return found;
}

export async function killProcessesUnder(dir: string): Promise<number[]> {
  const killed: number[] = [];
  for (const { pid } of await processesUnder(dir)) {
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // gone already
    }
  }
  return killed;
}
