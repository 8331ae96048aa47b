// What the numbers were taken on: the machine, the toolchain and how busy it was. The
// machine is shared with other builds, so every benchmark records the load around it.
import fs from "node:fs/promises";
import os from "node:os";
import { runProcess } from "../../src/exec/process.js";

export interface Load {
  at: string;
  /** 1, 5 and 15 minute load averages. */
  loadavg: [number, number, number];
}

export function loadNow(): Load {
  const [a, b, c] = os.loadavg();
  return { at: new Date().toISOString(), loadavg: [round2(a), round2(b), round2(c)] };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export interface Machine {
  nproc: number;
  cpu_model: string;
  mem_total_mib: number;
  kernel: string;
  node: string;
  cargo: string;
  bwrap: string;
  nix: string;
  commit: string;
  dirty: boolean;
}

async function firstLine(argv: string[], cwd: string): Promise<string> {
  try {
    const r = await runProcess(argv, { cwd, env: process.env as Record<string, string>, timeoutMs: 10_000 });
    return r.exitCode === 0 ? (r.stdout || r.stderr).trim().split("\n")[0] : "unavailable";
  } catch {
    return "unavailable";
  }
}

async function cpuModel(): Promise<string> {
  const info = await fs.readFile("/proc/cpuinfo", "utf8").catch(() => "");
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
}

export async function machineInfo(repoRoot: string): Promise<Machine> {
  const status = await firstLine(["git", "status", "--porcelain", "--untracked-files=no"], repoRoot);
  return {
    nproc: os.availableParallelism(),
    cpu_model: await cpuModel(),
    mem_total_mib: Math.round(os.totalmem() / 1024 / 1024),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    cargo: await firstLine(["cargo", "--version"], repoRoot),
    bwrap: await firstLine(["bwrap", "--version"], repoRoot),
    nix: await firstLine(["nix", "--version"], repoRoot),
    commit: await firstLine(["git", "rev-parse", "--short", "HEAD"], repoRoot),
    dirty: status !== "" && status !== "unavailable",
  };
}

/** Resident memory of a process in KiB, from /proc/<pid>/status (VmRSS). */
export async function rssKib(pid: number): Promise<number | undefined> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** CPU milliseconds (user + system) a process has used itself, children excluded. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces: the fields start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;
