// Splits a craft's wall time into the build tools' time (cargo, nix: from the timing
// wrappers' log) and Flakebot's own time (everything else).
import { isBuildTool, timeWithin, toolSpans, type BenchEnv } from "./env.js";
import type { CraftTiming } from "./server.js";

export interface CraftSplit {
  total_ms: number;
  /** Time in cargo and nix runs, sandboxed or not. */
  tools_ms: number;
  /** Wall time outside every cargo and nix run. */
  own_ms: number;
  /** Milliseconds per command ("cargo metadata", "bwrap:cargo build", "nix build"...). */
  by_command: Record<string, number>;
}

export async function splitCraft(benv: BenchEnv, t: CraftTiming): Promise<CraftSplit> {
  const spans = (await toolSpans(benv.toolLog)).filter((s) => s.end > t.started_at && s.start < t.ended_at);
  const by_command: Record<string, number> = {};
  for (const s of spans) {
    const key = s.label.replace(/^bwrap:(\S+) --\S+$/, "bwrap:$1").replace(/^(bwrap:setpriv|bwrap:prlimit).*$/, "$1 (crafted binary)");
    by_command[key] = (by_command[key] ?? 0) + timeWithin([s], t.started_at, t.ended_at);
  }
  const tools_ms = timeWithin(spans.filter(isBuildTool), t.started_at, t.ended_at);
  return { total_ms: t.total_ms, tools_ms, own_ms: Math.max(0, t.total_ms - tools_ms), by_command };
}
