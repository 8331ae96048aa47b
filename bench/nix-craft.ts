// The Nix backend's one compile: a cold craft beside one bare `nix build` of the same flake
// (the craft compiles and tests only inside that build), and a re-craft of the same tree
// (the build cache: no compile at all). Uses the tests' stand-in nixpkgs.
import path from "node:path";
import { benchEnv, toolSpans } from "./lib/env.js";
import { fixtureVariant, type Fixture } from "./lib/fixtures.js";
import { nixStub } from "./lib/nix.js";
import { connect, craftTimed, type Connected, type StageTime } from "./lib/server.js";
import { ms, spread, summarize } from "./lib/stats.js";
import { bareNixBuild } from "./craft.js";
import { nixAvailable } from "../src/backends/nix/nix.js";
import type { Aim, Benchmark, Table } from "./lib/types.js";

const INSTRUCTIONS: Partial<Record<Fixture, string>> = { hello: "print text in upper case", kebab: "print words in kebab-case" };

interface NixReps {
  fixture: Fixture;
  craft_ms: number[];
  bare_nix_ms: number[];
  recraft_ms: number[];
  backends: string[];
}

/** One run (nix, bwrap, git) of a profiled craft: when it started after the craft's request, and how long it took. */
interface ProfiledSpan {
  label: string;
  at_ms: number;
  ms: number;
}

interface Profile {
  fixture: Fixture;
  total_ms: number;
  /** Epoch milliseconds of the request; stages and spans start after it. */
  started_at: number;
  stages: StageTime[];
  spans: ProfiledSpan[];
}

/**
 * One more cold craft, on a server whose nix, bwrap and git are the timing wrappers: where
 * the craft's time goes, stage by stage and run by run. Kept apart from the timed reps,
 * which run without the wrappers (each costs a bash start).
 */
async function profile(fixture: Fixture): Promise<Profile> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" });
  const stub = await nixStub(benv.dir);
  let c: Connected | undefined;
  try {
    c = await connect({ ...benv.env, ...stub.env });
    // A first craft warms what every later craft of the server reuses (as the timed reps' first does).
    const warm = await fixtureVariant(fixture, path.join(benv.dir, "src", "warm"), "warm");
    await craftTimed(c, { instructions: INSTRUCTIONS[fixture]!, source: warm, modify: "never", name: `${fixture}_warm` });
    await stub.retag();
    const source = await fixtureVariant(fixture, path.join(benv.dir, "src", "profiled"), "profiled");
    const t = await craftTimed(c, { instructions: INSTRUCTIONS[fixture]!, source, modify: "never", name: `${fixture}_profiled` });
    const spans = (await toolSpans(benv.toolLog))
      .filter((s) => s.end >= t.started_at && s.start <= t.ended_at)
      .map((s) => ({ label: s.label, at_ms: s.start - t.started_at, ms: s.end - s.start }));
    return { fixture, total_ms: t.total_ms, started_at: t.started_at, stages: t.stages, spans };
  } finally {
    await c?.close();
    await benv.cleanup();
  }
}

function profileTable(p: Profile): Table {
  const entries = [
    ...p.stages.map((s) => ({ what: `stage ${s.stage}`, at: s.start_epoch - p.started_at, ms: s.ms })),
    ...p.spans.map((s) => ({ what: `  ${s.label}`, at: s.at_ms, ms: s.ms })),
  ].sort((a, b) => a.at - b.at);
  return {
    title: `where a cold Nix craft of ${p.fixture} goes (${ms(p.total_ms)} ms in all): stages, and each run of nix, bwrap and git`,
    header: ["what", "starts at", "ms"],
    rows: entries.map((e) => [e.what, ms(e.at), ms(e.ms)]),
  };
}

async function measure(fixture: Fixture, reps: number): Promise<NixReps> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" }, { timing: false });
  const stub = await nixStub(benv.dir);
  const out: NixReps = { fixture, craft_ms: [], bare_nix_ms: [], recraft_ms: [], backends: [] };
  let c: Connected | undefined;
  try {
    c = await connect({ ...benv.env, ...stub.env });
    for (let i = 0; i < reps; i++) {
      const tag = `${fixture}_${i}`;
      const source = await fixtureVariant(fixture, path.join(benv.dir, "src", tag), tag);
      const request = { instructions: INSTRUCTIONS[fixture]!, source, modify: "never" };
      await stub.retag(); // every derivation new: a cold build
      const cold = await craftTimed(c, { ...request, name: tag });
      const build = cold.structured.build;
      out.backends.push(build.backend);
      out.craft_ms.push(cold.total_ms);
      if (build.flake_ref) out.bare_nix_ms.push(await bareNixBuild(benv, stub, build.flake_ref));
      await stub.retag();
      // The bare build above used a new tag: re-crafting the tree the craft built still hits its cache.
      const again = await craftTimed(c, { ...request, name: `${tag}_again` });
      if (again.structured.build?.cached !== true) throw new Error(`the re-craft of ${tag} did not reuse the build`);
      out.recraft_ms.push(again.total_ms);
    }
    return out;
  } finally {
    await c?.close();
    await benv.cleanup();
  }
}

export const nixCraftBench: Benchmark = {
  name: "nix-craft",
  title: "Nix backend: cold craft vs one bare nix build of the same flake, and a cached re-craft",
  async run(opts) {
    const nix = await nixAvailable();
    if (!nix.available) return { tables: [], data: {}, aims: [], notes: [`not measured: ${nix.reason}`] };
    const reps = opts.quick ? 1 : 3;
    const results = [await measure("hello", reps), await measure("kebab", reps)];
    const profiles = [await profile("hello"), await profile("kebab")];
    const rows = results.map((r) => {
      const craft = summarize(r.craft_ms).p50;
      const bare = summarize(r.bare_nix_ms).p50;
      return [r.fixture, String(r.craft_ms.length), ms(craft), spread(r.craft_ms), ms(bare), `${(((craft - bare) / bare) * 100).toFixed(0)}%`, ms(summarize(r.recraft_ms).p50), r.backends.join(",")];
    });
    const tables: Table[] = [
      {
        title: "cold Nix craft (craft_tool to ready) vs one bare `nix build` of its flake, median ms",
        header: ["crate", "runs", "craft", "craft range", "bare nix build", "craft over bare", "cached re-craft", "backend"],
        rows,
      },
      ...profiles.map(profileTable),
    ];
    const aims: Aim[] = results.map((r) => {
      const over = summarize(r.craft_ms).p50 / summarize(r.bare_nix_ms).p50 - 1;
      return { aim: `cold Nix craft of ${r.fixture} within 10% of a bare nix build`, value: `${(over * 100).toFixed(0)}% over`, met: over <= 0.1 };
    });
    return { tables, data: { results, profiles }, aims, notes: ["the bare nix build runs without bwrap; the craft's runs under it (the stand-in's Nix sandbox is off)"] };
  },
};
