// Finding processes a test left behind: any process whose working directory is under a dir.
import fs from "node:fs/promises";

export async function processesUnder(dir: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = await fs.readlink(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) {
        const cmd = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" ").trim();
        found.push({ pid: Number(entry), cmd });
      }
    } catch {
      // gone, or not ours to read
    }
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
