// 3. Re-craft of an identical tree: the build cache hit, from craft_tool to ready. The
// floor is the cold craft of the same tree just before it.
import path from "node:path";
import { benchEnv } from "./lib/env.js";
import { copyFixture } from "./lib/fixtures.js";
import { connect, craftTimed, stageMedians, type Connected, type StageTime } from "./lib/server.js";
import { ms, spread, summarize } from "./lib/stats.js";
import type { Benchmark } from "./lib/types.js";

export const recraftBench: Benchmark = {
  name: "recraft",
  title: "Re-craft of an identical tree (build cache hit): time to ready",
  async run(opts) {
    const reps = opts.quick ? 5 : 10;
    const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" }, { timing: false });
    let c: Connected | undefined;
    try {
      c = await connect(benv.env);
      const source = await copyFixture("hello", path.join(benv.dir, "hello-src"));
      const request = { instructions: "print text in upper case", source, modify: "never" };
      const cold = await craftTimed(c, { ...request, name: "cold" });
      const times: number[] = [];
      const stages: StageTime[][] = [];
      for (let i = 0; i < reps; i++) {
        const t = await craftTimed(c, { ...request, name: `again_${i}` });
        if (t.structured.build?.cached !== true) throw new Error(`re-craft ${i} did not reuse the build: ${JSON.stringify(t.structured.build)}`);
        times.push(t.total_ms);
        stages.push(t.stages);
        await c.call("dispose_tool", { name: `again_${i}` });
      }
      const s = summarize(times);
      const stageP50 = stageMedians(stages);
      return {
        tables: [
          {
            title: "re-craft of hello (identical tree), ms",
            header: ["craft", "runs", "p50", "p95", "min..max"],
            rows: [
              ["cold craft of the same tree (before)", "1", ms(cold.total_ms), "-", "-"],
              ["re-craft (cache hit)", String(s.n), ms(s.p50), ms(s.p95), spread(times)],
            ],
          },
          { title: "re-craft stages, median ms", header: Object.keys(stageP50), rows: [Object.values(stageP50).map(ms)] },
        ],
        data: { cold_ms: cold.total_ms, recraft_ms: times, recraft: s, stage_p50_ms: stageP50 },
        aims: [{ aim: "re-craft of an identical tree < 1 s (p50)", value: `${ms(s.p50)} ms (p95 ${ms(s.p95)})`, met: s.p50 < 1000 }],
        notes: [],
      };
    } finally {
      await c?.close();
      await benv.cleanup();
    }
  },
};
