// `npm run bench [-- --quick] [-- --only invoke,scale]`: runs the benchmark suite, prints a
// table per benchmark and writes everything (with the machine and its load) to
// bench/results/<time>.json. Benchmarks report numbers; they never fail a build.
import fs from "node:fs/promises";
import path from "node:path";
import { formatTable } from "../src/cli/table.js";
import { repoRoot } from "../test/helpers/offline.js";
import { loadNow, machineInfo, type Load } from "./lib/machine.js";
import type { Aim, Benchmark, BenchOutput } from "./lib/types.js";
import { invokeBench } from "./invoke.js";
import { craftBench } from "./craft.js";
import { recraftBench } from "./recraft.js";
import { scaleBench } from "./scale.js";
import { concurrencyBench } from "./concurrency.js";
import { llmLoopBench } from "./llm-loop.js";
import { nixCraftBench } from "./nix-craft.js";
import { sharedDepsBench } from "./shared-deps.js";

const ALL: Benchmark[] = [invokeBench, craftBench, recraftBench, scaleBench, concurrencyBench, llmLoopBench, nixCraftBench, sharedDepsBench];

interface Args {
  quick: boolean;
  only?: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") args.quick = true;
    else if (a === "--only" || a.startsWith("--only=")) {
      const value = a === "--only" ? argv[++i] : a.slice("--only=".length);
      if (!value) throw new Error(`--only needs benchmark names: ${ALL.map((b) => b.name).join(", ")}`);
      args.only = value.split(",").map((s) => s.trim());
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(`usage: npm run bench -- [--quick] [--only NAME[,NAME...]]\nbenchmarks: ${ALL.map((b) => `${b.name} (${b.title})`).join("\n            ")}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument "${a}": use --quick and --only NAME[,NAME]`);
  }
  const unknown = args.only?.filter((n) => !ALL.some((b) => b.name === n)) ?? [];
  if (unknown.length) throw new Error(`no benchmark named ${unknown.join(", ")}: choose from ${ALL.map((b) => b.name).join(", ")}`);
  return args;
}

interface BenchRecord extends Partial<BenchOutput> {
  name: string;
  title: string;
  load_start: Load;
  load_end: Load;
  duration_ms: number;
  error?: string;
}

/** How this run was started: through npm (whose PATH puts node_modules/.bin's node first) or directly. */
function commandLine(): string {
  const args = process.argv.slice(2);
  if (process.env.npm_lifecycle_event === "bench") return ["npm run bench", ...(args.length ? ["--", ...args] : [])].join(" ");
  return [process.execPath, "dist/bench/run.js", ...args].join(" ");
}

function print(text: string): void {
  process.stdout.write(text + "\n");
}

function aimLine(a: Aim): string {
  const verdict = a.met === null ? "not measured" : a.met ? "met" : "MISSED";
  return `  [${verdict}] ${a.aim}: ${a.value}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selected = args.only ? ALL.filter((b) => args.only!.includes(b.name)) : ALL;
  const machine = await machineInfo(repoRoot);
  const startedAt = new Date();
  print(`Flakebot benchmarks (${args.quick ? "quick" : "full"}) at ${machine.commit}${machine.dirty ? " (uncommitted changes)" : ""}`);
  print(`machine: ${machine.nproc} cores, ${machine.cpu_model}, ${machine.mem_total_mib} MiB; ${machine.node}; ${machine.cargo}; load ${loadNow().loadavg.join(" ")}`);
  const records: BenchRecord[] = [];
  for (const bench of selected) {
    print(`\n## ${bench.name}: ${bench.title}`);
    const load_start = loadNow();
    const start = performance.now();
    let record: BenchRecord;
    try {
      const out = await bench.run({ quick: args.quick });
      record = { name: bench.name, title: bench.title, load_start, load_end: loadNow(), duration_ms: Math.round(performance.now() - start), ...out };
    } catch (err) {
      record = { name: bench.name, title: bench.title, load_start, load_end: loadNow(), duration_ms: Math.round(performance.now() - start), error: (err as Error).stack ?? String(err) };
    }
    records.push(record);
    for (const t of record.tables ?? []) print(`\n${t.title}\n${formatTable(t.header, t.rows)}`);
    for (const a of record.aims ?? []) print(aimLine(a));
    for (const n of record.notes ?? []) print(`  note: ${n}`);
    if (record.error) print(`  FAILED: ${record.error}`);
    print(`  (${(record.duration_ms / 1000).toFixed(1)} s; load average ${record.load_start.loadavg[0]} at start, ${record.load_end.loadavg[0]} at end)`);
  }
  const file = path.join(repoRoot, "bench", "results", `${startedAt.toISOString().replace(/[:.]/g, "-")}${args.quick ? "-quick" : ""}.json`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const result = { started_at: startedAt.toISOString(), command: commandLine(), quick: args.quick, machine, benchmarks: records };
  await fs.writeFile(file, JSON.stringify(result, null, 2) + "\n");
  print(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
