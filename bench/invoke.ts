// 1. Invoke overhead: a crafted tool called through MCP over stdio (as its own tool and
// through invoke_tool) against the floor: the same argv spawned straight from Node with
// execa, and from a bash loop. Unsandboxed and under bwrap, each with its own server.
import path from "node:path";
import { spawn } from "node:child_process";
import { execa } from "execa";
import { runProcess } from "../src/exec/process.js";
import { craftedEnv } from "../src/exec/env.js";
import { sandboxArgv } from "../src/exec/sandbox.js";
import { benchEnv } from "./lib/env.js";
import { copyFixture } from "./lib/fixtures.js";
import { connect, craftTimed, type Connected } from "./lib/server.js";
import { ms, ratio, spread, summarizeRuns, type RunsSummary } from "./lib/stats.js";
import { cpuMs } from "./lib/machine.js";
import type { Aim, Benchmark, BenchOptions, Table } from "./lib/types.js";

const ARGS = ["hello", "bench"];
const EXPECTED = "HELLO BENCH\n";
const WARMUP = 5;

interface Variant {
  name: string;
  /** Runs `n` calls and returns each call's milliseconds. */
  batch(n: number): Promise<number[]>;
  /** The process that does the spawning (the server for MCP calls; null: not measured). */
  spawner: number | null;
}

async function eachTimed(n: number, call: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    out.push(performance.now() - start);
  }
  return out;
}

function check(stdout: unknown, via: string): void {
  if (stdout !== EXPECTED) throw new Error(`${via} answered ${JSON.stringify(stdout)}, not ${JSON.stringify(EXPECTED)}`);
}

/**
 * An MCP call timed by the client, and beside it the same call minus the binary's run as
 * the server measured it: what MCP and Flakebot add over the server's own spawn.
 */
function mcpVariant(c: Connected, name: string, tool: string, args: Record<string, unknown>, added: Map<string, number[][]>): Variant {
  return {
    name,
    spawner: c.pid(),
    async batch(n) {
      const out: number[] = [];
      const over: number[] = [];
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        const r = await c.client.callTool({ name: tool, arguments: args });
        const took = performance.now() - start;
        const s = r.structuredContent as Record<string, any>;
        check(s?.stdout, name);
        out.push(took);
        over.push(took - s.duration_ms);
      }
      if (n > WARMUP) added.set(name, [...(added.get(name) ?? []), over]);
      return out;
    },
  };
}

function mcpVariants(c: Connected, tool: string, added: Map<string, number[][]>): Variant[] {
  return [
    mcpVariant(c, "MCP: crafted tool", tool, { args: ARGS }, added),
    mcpVariant(c, "MCP: invoke_tool", "invoke_tool", { name: tool, args: ARGS }, added),
  ];
}

/** The floor: the argv Flakebot runs (with bwrap around it when sandboxed), spawned directly. */
function floorVariants(argv: string[], scratch: string): Variant[] {
  const env = craftedEnv(scratch);
  const fromNode = async () => {
    const r = await execa(argv[0], argv.slice(1), { cwd: scratch, env, extendEnv: false, input: "", reject: false });
    check(r.stdout + "\n", "execa");
  };
  // A benchmark's floor, not product code: bash times each iteration with $EPOCHREALTIME.
  const loop = 'for ((i=0; i<N; i++)); do s=$EPOCHREALTIME; "$@" </dev/null >/dev/null; e=$EPOCHREALTIME; echo "$s $e"; done';
  const fromShell = async (n: number) => {
    const r = await runProcess(["bash", "-c", loop.replace("N", String(n)), "bench-loop", ...argv], { cwd: scratch, env, timeoutMs: 600_000 });
    if (r.exitCode !== 0) throw new Error(`the shell loop failed: ${r.stderr.slice(-1000)}`);
    return r.stdout
      .trim()
      .split("\n")
      .map((line) => {
        const [s, e] = line.split(" ").map(Number);
        return (e - s) * 1000;
      });
  };
  const raw = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: scratch, env, stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.on("error", reject);
      child.on("close", () => {
        try {
          check(out, "spawn");
          resolve();
        } catch (err) {
          reject(err);
        }
      });
    });
  return [
    { name: "floor: execa spawn", batch: (n) => eachTimed(n, fromNode), spawner: process.pid },
    { name: "floor: node spawn", batch: (n) => eachTimed(n, raw), spawner: process.pid },
    { name: "floor: bash loop", batch: fromShell, spawner: null },
  ];
}

interface ModeResult {
  mode: "off" | "auto";
  sandboxed: boolean;
  calls_per_variant: number;
  variants: Record<string, RunsSummary>;
  /** Per MCP call: client time minus the binary's run as the server timed it (duration_ms). */
  added_over_server_spawn: Record<string, RunsSummary>;
  /**
   * CPU ms per call used by the spawning process itself (the server for MCP calls, this
   * process for the Node floors): the work done, whatever the load makes it wait for.
   */
  cpu_per_call_ms: Record<string, number>;
}

async function measureMode(mode: "off" | "auto", opts: BenchOptions): Promise<ModeResult> {
  const rounds = opts.quick ? 3 : 5;
  const perRound = opts.quick ? 70 : 100;
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: mode }, { timing: false });
  let c: Connected | undefined;
  try {
    c = await connect(benv.env);
    const source = await copyFixture("hello", path.join(benv.dir, "hello-src"));
    const crafted = await craftTimed(c, { instructions: "print text in upper case", source, name: "upper" });
    await c.client.listTools(); // as an agent does; the client then checks results against the output schema
    const binary: string = crafted.structured.build.binary;
    const sandboxed = crafted.structured.sandboxed === true || (await c.call("describe_tool", { name: "upper" })).structured.sandboxed === true;
    const scratch = path.join(benv.home, "tools", "upper", "scratch");
    const argv = sandboxed ? sandboxArgv([binary, ...ARGS], { scratch }) : [binary, ...ARGS];
    const added = new Map<string, number[][]>();
    const variants = [...mcpVariants(c, "upper", added), ...floorVariants(argv, scratch)];
    const samples = new Map<string, number[][]>(variants.map((v) => [v.name, []]));
    const cpu = new Map<string, number>();
    for (const v of variants) await v.batch(WARMUP);
    for (let round = 0; round < rounds; round++) {
      // Rotate the order every round so a change in the machine's load hits every variant.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + round) % variants.length];
        const before = v.spawner ? await cpuMs(v.spawner) : 0;
        samples.get(v.name)!.push(await v.batch(perRound));
        if (v.spawner) cpu.set(v.name, (cpu.get(v.name) ?? 0) + (await cpuMs(v.spawner)) - before);
      }
    }
    return {
      mode,
      sandboxed,
      calls_per_variant: rounds * perRound,
      variants: Object.fromEntries([...samples].map(([k, runs]) => [k, summarizeRuns(runs)])),
      added_over_server_spawn: Object.fromEntries([...added].map(([k, runs]) => [k, summarizeRuns(runs)])),
      cpu_per_call_ms: Object.fromEntries([...cpu].map(([k, total]) => [k, total / (rounds * perRound)])),
    };
  } finally {
    await c?.close();
    await benv.cleanup();
  }
}

function tableOf(r: ModeResult): Table {
  const floor = r.variants["floor: execa spawn"];
  const rows = Object.entries(r.variants).map(([name, s]) => [
    name,
    String(s.n),
    ms(s.p50),
    ms(s.p95),
    spread(s.run_p50s),
    name === "floor: execa spawn" ? "-" : `${s.p50 - floor.p50 >= 0 ? "+" : ""}${ms(s.p50 - floor.p50)}`,
    name === "floor: execa spawn" ? "-" : `${s.p95 - floor.p95 >= 0 ? "+" : ""}${ms(s.p95 - floor.p95)}`,
    ratio(s.p50, floor.p50),
    r.cpu_per_call_ms[name] === undefined ? "-" : ms(r.cpu_per_call_ms[name]),
  ]);
  for (const [name, a] of Object.entries(r.added_over_server_spawn)) {
    rows.push([`${name}, minus its own spawn`, String(a.n), ms(a.p50), ms(a.p95), spread(a.run_p50s), "-", "-", "-", "-"]);
  }
  return {
    title: `invoke, FLAKEBOT_SANDBOX=${r.mode} (${r.sandboxed ? "under bwrap" : "unsandboxed"}), ms per call`,
    header: ["variant", "calls", "p50", "p95", "run p50s", "added p50", "added p95", "ratio p50", "spawner CPU/call"],
    rows,
  };
}

export const invokeBench: Benchmark = {
  name: "invoke",
  title: "Invoke overhead: MCP over stdio vs spawning the binary directly",
  async run(opts) {
    const off = await measureMode("off", opts);
    const auto = await measureMode("auto", opts);
    const aims: Aim[] = ["MCP: crafted tool", "MCP: invoke_tool"].map((name) => {
      const vsFloor = off.variants[name].p50 - off.variants["floor: execa spawn"].p50;
      const paired = off.added_over_server_spawn[name].p50;
      const worst = Math.max(vsFloor, paired);
      const cpuAdded = off.cpu_per_call_ms[name] - off.cpu_per_call_ms["floor: execa spawn"];
      return {
        aim: `invoke adds < 2 ms at p50, unsandboxed (${name.replace("MCP: ", "")})`,
        value: `wall: ${ms(vsFloor)} ms vs the execa floor, ${ms(paired)} ms over the server's own spawn of the same call; CPU: ${ms(cpuAdded)} ms/call more than the execa floor's`,
        met: worst < 2,
      };
    });
    const notes = auto.sandboxed ? [] : ["FLAKEBOT_SANDBOX=auto did not sandbox here (bwrap missing or unusable): the second table is unsandboxed too"];
    return { tables: [tableOf(off), tableOf(auto)], data: { unsandboxed: off, bwrap: auto }, aims, notes };
  },
};
