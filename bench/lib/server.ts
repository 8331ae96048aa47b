// Talking to a benchmarked server through the tests' real MCP client over stdio, and timing
// a craft by its stages (from the progress notifications the server sends at each change).
import { connect, textOf, type Connected } from "../../test/helpers/client.js";

export { connect, type Connected };

export interface StageTime {
  stage: string;
  ms: number;
  /** Epoch milliseconds when the stage began. */
  start_epoch: number;
}

export interface CraftTiming {
  /** Request sent to result received. */
  total_ms: number;
  /** Epoch milliseconds, to match against the cargo wrapper's log. */
  started_at: number;
  ended_at: number;
  stages: StageTime[];
  structured: Record<string, any>;
}

/** Crafts and waits for it to be ready; throws with the server's message otherwise. */
export async function craftTimed(c: Connected, args: Record<string, unknown>): Promise<CraftTiming> {
  const marks: { stage: string; at: number }[] = [];
  const started_at = Date.now();
  const start = performance.now();
  const r = await c.call("craft_tool", { wait_seconds: 600, ...args }, {
    onprogress: (p) => {
      const stage = (p.message ?? "").split(":")[0];
      if (marks.at(-1)?.stage !== stage) marks.push({ stage, at: performance.now() });
    },
  });
  const end = performance.now();
  if (r.structured.status !== "ready") {
    throw new Error(`craft of ${String(args.name)} did not get ready: ${textOf(r).slice(0, 2000)}`);
  }
  const stages = marks.map((m, i) => ({ stage: m.stage, ms: (marks[i + 1]?.at ?? end) - m.at, start_epoch: started_at + (m.at - start) }));
  return { total_ms: end - start, started_at, ended_at: Date.now(), stages, structured: r.structured };
}

/** Adds up stage times by stage name over several crafts, as medians per stage. */
export function stageMedians(runs: StageTime[][]): Record<string, number> {
  const by = new Map<string, number[]>();
  for (const run of runs) {
    const sums = new Map<string, number>();
    for (const s of run) sums.set(s.stage, (sums.get(s.stage) ?? 0) + s.ms);
    for (const [k, v] of sums) by.set(k, [...(by.get(k) ?? []), v]);
  }
  const out: Record<string, number> = {};
  for (const [k, v] of by) {
    const sorted = v.sort((a, b) => a - b);
    out[k] = sorted[Math.floor((sorted.length - 1) / 2)];
  }
  return out;
}
