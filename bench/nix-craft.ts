// The Nix backend's one compile: a cold craft beside one bare `nix build` of the same flake
// (the craft compiles and tests only inside that build), and a re-craft of the same tree
// (the build cache: no compile at all). Uses the tests' stand-in nixpkgs.
import fs from "node:fs/promises";
import path from "node:path";
import { benchEnv, toolSpans } from "./lib/env.js";
import { fixtureVariant, INSTRUCTIONS, type Fixture } from "./lib/fixtures.js";
import { nixStub } from "./lib/nix.js";
import { connect, craftTimed, type Connected, type CraftTiming, type StageTime } from "./lib/server.js";
import { ms, spread, summarize } from "./lib/stats.js";
import { bareNixBuild } from "./craft.js";
import { nixAvailable } from "../src/backends/nix/nix.js";
import type { Aim, Benchmark, Table } from "./lib/types.js";


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
  /** "first" (the server's first craft) or "later" (a cold craft after it). */
  which: string;
  total_ms: number;
  /** Epoch milliseconds of the request; stages and spans start after it. */
  started_at: number;
  stages: StageTime[];
  spans: ProfiledSpan[];
}

/**
 * Two more cold crafts, on a server whose nix, bwrap and git are the timing wrappers: where
 * the time of its first craft and of a later one goes, stage by stage and run by run. Kept
 * apart from the timed reps, which run without the wrappers (each costs a bash start).
 */
async function profile(fixture: Fixture): Promise<Profile[]> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" });
  const stub = await nixStub(benv.dir);
  let c: Connected | undefined;
  try {
    c = await connect({ ...benv.env, ...stub.env });
    const crafts: { which: string; t: CraftTiming }[] = [];
    for (const which of ["first", "later"]) {
      const source = await fixtureVariant(fixture, path.join(benv.dir, "src", which), which);
      crafts.push({ which, t: await craftTimed(c, { instructions: INSTRUCTIONS[fixture], source, modify: "never", name: `${fixture}_${which}` }) });
    }
    const all = await toolSpans(benv.toolLog);
    return crafts.map(({ which, t }) => ({
      fixture,
      which,
      total_ms: t.total_ms,
      started_at: t.started_at,
      stages: t.stages,
      spans: all.filter((s) => s.end >= t.started_at && s.start <= t.ended_at).map((s) => ({ label: s.label, at_ms: s.start - t.started_at, ms: s.end - s.start })),
    }));
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
    title: `where a cold Nix craft of ${p.fixture} goes (the server's ${p.which === "first" ? "first craft" : "second craft"}, ${ms(p.total_ms)} ms in all): stages, and each run of nix, bwrap and git`,
    header: ["what", "starts at", "ms"],
    rows: entries.map((e) => [e.what, ms(e.at), ms(e.ms)]),
  };
}

/**
 * `reps` cold crafts on one server, each of a new tree (its own comment line: a new
 * derivation), each followed by a bare `nix build` of the same flake and a re-craft of the
 * same tree. The crafts' nixpkgs stays as it is, like a real pin; the bare builds use an
 * identical copy re-tagged before each (so they build cold too, and never touch the crafts' pin).
 * The first craft of the server is reported apart: it is the one that locks nixpkgs.
 */
async function measure(fixture: Fixture, reps: number): Promise<NixReps> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" }, { timing: false });
  const stub = await nixStub(benv.dir);
  const floorStub = await nixStub(await fs.mkdtemp(path.join(benv.dir, "floor-")));
  const out: NixReps = { fixture, craft_ms: [], bare_nix_ms: [], recraft_ms: [], backends: [] };
  let c: Connected | undefined;
  try {
    c = await connect({ ...benv.env, ...stub.env });
    for (let i = 0; i < reps; i++) {
      const tag = `${fixture}_${i}`;
      const source = await fixtureVariant(fixture, path.join(benv.dir, "src", tag), tag);
      const request = { instructions: INSTRUCTIONS[fixture], source, modify: "never" };
      const cold = await craftTimed(c, { ...request, name: tag });
      const build = cold.structured.build;
      if (build.cached) throw new Error(`the cold craft ${tag} reused a build`);
      out.backends.push(build.backend);
      out.craft_ms.push(cold.total_ms);
      if (build.flake_ref) out.bare_nix_ms.push(await bareNixBuild(benv, floorStub, build.flake_ref));
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
    const reps = opts.quick ? 2 : 4;
    // matcher (regex 1.7 from source, whose crates keep their crates.io checksums in Debian's
    // registry, unlike clap's) shows the fixed cost against a real program's build.
    const results = [await measure("hello", reps), await measure("kebab", reps), ...(opts.quick ? [] : [await measure("matcher", 3)])];
    const profiles = [...(await profile("hello")), ...(await profile("kebab"))];
    // The first craft of a server stands apart; the later ones are every other cold craft.
    const later = (r: NixReps) => r.craft_ms.slice(1);
    const rows = results.map((r) => {
      const craft = summarize(later(r)).p50;
      const bare = summarize(r.bare_nix_ms).p50;
      const over = (x: number) => `${x >= bare ? "+" : ""}${(((x - bare) / bare) * 100).toFixed(0)}%`;
      return [r.fixture, String(later(r).length), ms(craft), spread(later(r)), ms(bare), spread(r.bare_nix_ms), over(craft), `${ms(r.craft_ms[0]!)} (${over(r.craft_ms[0]!)})`, ms(summarize(r.recraft_ms).p50), r.backends.join(",")];
    });
    const tables: Table[] = [
      {
        title: "cold Nix craft of a new tree (craft_tool to ready) vs one bare `nix build` of its flake, median ms",
        header: ["crate", "runs", "cold craft", "range", "bare nix build", "range", "craft over bare", "server's first craft", "cached re-craft", "backend"],
        rows,
      },
      ...profiles.map(profileTable),
    ];
    const aims: Aim[] = results.map((r) => {
      const over = summarize(later(r)).p50 / summarize(r.bare_nix_ms).p50 - 1;
      return { aim: `cold Nix craft of ${r.fixture} within 10% of a bare nix build`, value: `${(over * 100).toFixed(0)}% over`, met: over <= 0.1 };
    });
    return { tables, data: { results, profiles }, aims, notes: ["the bare nix build runs without bwrap; the craft's runs under it (the stand-in's Nix sandbox is off)"] };
  },
};
