// 5. Concurrency: 8 crafts of 8 distinct small crates (hello with a changed line, so no
// cache hit) queued at once, against 8 sequential bare cargo builds (+ tests) of the same
// kind of tree. The server bounds concurrent builds with FLAKEBOT_MAX_BUILDS (default 1).
import path from "node:path";
import { benchEnv, isBuildTool, timeWithin, toolSpans } from "./lib/env.js";
import { bareCargo, fixtureVariant } from "./lib/fixtures.js";
import { connect, type Connected } from "./lib/server.js";
import { ms } from "./lib/stats.js";
import { textOf } from "../test/helpers/client.js";
import type { Benchmark, Table } from "./lib/types.js";

const CRATES = 8;

interface QueueRun {
  max_builds: number;
  total_ms: number;
  /** When each craft became ready, from the first request. */
  ready_at_ms: number[];
  cargo_busy_ms: number;
}

async function queued(maxBuilds: number, round: number): Promise<QueueRun> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto", FLAKEBOT_MAX_BUILDS: String(maxBuilds) });
  let c: Connected | undefined;
  try {
    c = await connect(benv.env);
    const names = Array.from({ length: CRATES }, (_, i) => `crate_${round}_${i}`);
    const sources = await Promise.all(names.map((n) => fixtureVariant("hello", path.join(benv.dir, "src", n), n)));
    const startedAt = Date.now();
    const start = performance.now();
    const started = await Promise.all(
      names.map((name, i) => c!.call("craft_tool", { instructions: "print text in upper case", source: sources[i], name, modify: "never", wait_seconds: 0 })),
    );
    for (const r of started) if (r.isError) throw new Error(`craft_tool refused: ${textOf(r)}`);
    const ready = await Promise.all(
      names.map(async (name) => {
        const d = await c!.call("describe_tool", { name, wait_seconds: 600 });
        if (d.structured.status !== "ready") throw new Error(`${name} did not get ready: ${textOf(d).slice(0, 1500)}`);
        return performance.now() - start;
      }),
    );
    const total = Math.max(...ready);
    const spans = (await toolSpans(benv.toolLog)).filter(isBuildTool);
    return { max_builds: maxBuilds, total_ms: total, ready_at_ms: ready.sort((a, b) => a - b), cargo_busy_ms: timeWithin(spans, startedAt, startedAt + total) };
  } finally {
    await c?.close();
    await benv.cleanup();
  }
}

interface SequentialRun {
  build_ms: number;
  total_ms: number;
}

async function sequentialBare(round: number): Promise<SequentialRun> {
  const benv = await benchEnv();
  try {
    let build = 0;
    let total = 0;
    for (let i = 0; i < CRATES; i++) {
      const tag = `bare_${round}_${i}`;
      const t = await bareCargo(await fixtureVariant("hello", path.join(benv.dir, tag), tag), benv);
      build += t.build_ms;
      total += t.total_ms;
    }
    return { build_ms: build, total_ms: total };
  } finally {
    await benv.cleanup();
  }
}

export const concurrencyBench: Benchmark = {
  name: "concurrency",
  title: "8 crafts queued at once vs 8 sequential bare builds",
  async run(opts) {
    const limits = opts.quick ? [1] : [1, 2];
    const rounds = opts.quick ? 1 : 2;
    const crafts: QueueRun[] = [];
    const bare: SequentialRun[] = [];
    for (let round = 0; round < rounds; round++) {
      bare.push(await sequentialBare(round));
      for (const limit of limits) crafts.push(await queued(limit, round));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const floor = med(bare.map((b) => b.total_ms));
    const rows: string[][] = [
      ["floor: 8 sequential bare cargo build --release", String(rounds), ms(med(bare.map((b) => b.build_ms))), "-", "-"],
      ["floor: 8 sequential bare build + test", String(rounds), ms(floor), "1.00x", "-"],
      ...limits.map((limit) => {
        const runs = crafts.filter((r) => r.max_builds === limit);
        const total = med(runs.map((r) => r.total_ms));
        const first = med(runs.map((r) => r.ready_at_ms[0]));
        return [`8 crafts queued, FLAKEBOT_MAX_BUILDS=${limit}`, String(runs.length), ms(total), `${(total / floor).toFixed(2)}x`, ms(first)];
      }),
    ];
    const table: Table = { title: `${CRATES} small crates, wall ms (median of runs)`, header: ["what", "runs", "total", "vs build+test floor", "first ready"], rows };
    return { tables: [table], data: { crates: CRATES, bare, crafts }, aims: [], notes: ["the issue sets no number for this one: the table is the comparison"] };
  },
};
