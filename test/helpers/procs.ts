// Finding processes a test left behind (any process whose working directory is under a
// dir, as crash recovery finds them; or whose command line names a path), and waiting for
// a condition.
import fs from "node:fs/promises";
export { processesUnder } from "../../src/exec/procs.js";

/** Processes (other than this one) whose command line contains `text`, as `ps` shows them. */
export async function processesNaming(text: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  for (const e of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await fs.readFile(`/proc/${e}/cmdline`, "utf8").then((t) => t.split("\0").join(" ").trim(), () => "");
    const state = await fs.readFile(`/proc/${e}/stat`, "utf8").then((s) => s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3), () => "Z");
    if (cmd.includes(text) && state !== "Z") found.push({ pid: Number(e), cmd });
  }
  return found;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
