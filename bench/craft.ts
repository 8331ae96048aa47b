// 2. Craft overhead: a cold craft of a fixture crate against its floor, a bare
// `cargo build --release` + `cargo test --release` of the same tree in a fresh copy (and,
// with the Nix backend, a bare `nix build` of the same flake). Flakebot's own share is the
// craft's time outside every cargo and nix run.
import path from "node:path";
import { runProcess } from "../src/exec/process.js";
import { nixAvailable } from "../src/backends/nix/nix.js";
import { benchEnv, type BenchEnv } from "./lib/env.js";
import { bareCargo, fixtureVariant, INSTRUCTIONS, type BareTimes, type Fixture } from "./lib/fixtures.js";
import { connect, craftTimed, stageMedians, type Connected, type StageTime } from "./lib/server.js";
import { splitCraft, type CraftSplit } from "./lib/craft-split.js";
import { nixStub, type NixStub } from "./lib/nix.js";
import { ms, spread, summarize } from "./lib/stats.js";
import type { Aim, Benchmark, BenchOptions, Table } from "./lib/types.js";

interface Rep {
  craft: CraftSplit;
  floor: BareTimes;
  /** The bare `nix build` of the craft's flake (Nix backend only). */
  nix_floor_ms?: number;
  backend: string;
  fallback_reason?: string;
  stages: StageTime[];
}

interface FixtureResult {
  fixture: Fixture;
  backend: "cargo" | "nix";
  reps: Rep[];
  stage_p50_ms: Record<string, number>;
}


async function craftOnce(benv: BenchEnv, c: Connected, fixture: Fixture, tag: string): Promise<{ split: CraftSplit; timing: Awaited<ReturnType<typeof craftTimed>> }> {
  const source = await fixtureVariant(fixture, path.join(benv.dir, "src", tag), tag);
  const timing = await craftTimed(c, { instructions: INSTRUCTIONS[fixture], source, name: tag, modify: "never" });
  return { split: await splitCraft(benv, timing), timing };
}

export async function bareNixBuild(benv: BenchEnv, stub: NixStub, flakeRef: string): Promise<number> {
  await stub.retag();
  const start = performance.now();
  const r = await runProcess(
    ["nix", "build", `${flakeRef}#default`, "--override-input", "nixpkgs", stub.nixpkgs, "--no-write-lock-file", "--no-link", "--json"],
    { cwd: benv.dir, env: { ...benv.bareEnv, ...stub.env }, timeoutMs: 3_600_000 },
  );
  if (r.exitCode !== 0) throw new Error(`bare nix build of ${flakeRef} failed: ${r.stderr.slice(-2000)}`);
  return performance.now() - start;
}

async function measureFixture(fixture: Fixture, reps: number, backend: "cargo" | "nix"): Promise<FixtureResult> {
  const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" });
  const stub = backend === "nix" ? await nixStub(benv.dir) : undefined;
  let c: Connected | undefined;
  try {
    c = await connect({ ...benv.env, ...(stub?.env ?? {}) });
    const out: Rep[] = [];
    for (let i = 0; i < reps; i++) {
      const tag = `${fixture}_${backend}_${i}`;
      const floorDir = path.join(benv.dir, "floor", tag);
      // Alternate which goes first, so a change in the machine's load hits both alike.
      let floor: BareTimes | undefined;
      if (i % 2 === 1) floor = await bareCargo(await fixtureVariant(fixture, floorDir, tag), benv);
      const { split, timing } = await craftOnce(benv, c, fixture, tag);
      if (!floor) floor = await bareCargo(await fixtureVariant(fixture, floorDir, tag), benv);
      const build = timing.structured.build;
      const rep: Rep = { craft: split, floor, backend: build.backend, fallback_reason: build.fallback_reason, stages: timing.stages };
      if (stub && build.backend === "nix" && build.flake_ref) rep.nix_floor_ms = await bareNixBuild(benv, stub, build.flake_ref);
      out.push(rep);
    }
    return { fixture, backend, reps: out, stage_p50_ms: stageMedians(out.map((r) => r.stages)) };
  } finally {
    await c?.close();
    await benv.cleanup();
  }
}

function row(r: FixtureResult): string[] {
  const p50 = (f: (rep: Rep) => number) => summarize(r.reps.map(f)).p50;
  const total = p50((x) => x.craft.total_ms);
  // With Nix the craft compiles once, in the nix build: that build alone is its floor.
  const floor = p50((x) => (x.backend === "nix" && x.nix_floor_ms !== undefined ? x.nix_floor_ms : x.floor.total_ms));
  const own = p50((x) => x.craft.own_ms);
  const tools = p50((x) => x.craft.tools_ms);
  return [
    `${r.fixture} (${r.backend}${r.reps.some((x) => x.backend !== r.backend) ? `, used ${r.reps[0].backend}` : ""})`,
    String(r.reps.length),
    ms(total),
    spread(r.reps.map((x) => x.craft.total_ms)),
    ms(floor),
    ms(tools),
    ms(own),
    `${((100 * own) / total).toFixed(1)}%`,
    `${total - floor >= 0 ? "+" : ""}${ms(total - floor)} (${((100 * (total - floor)) / total).toFixed(1)}%)`,
  ];
}

function stagesTable(results: FixtureResult[]): Table {
  const stages = [...new Set(results.flatMap((r) => Object.keys(r.stage_p50_ms)))];
  return {
    title: "craft stages, median ms (from the server's progress notifications)",
    header: ["craft", ...stages],
    rows: results.map((r) => [`${r.fixture} (${r.backend})`, ...stages.map((s) => ms(r.stage_p50_ms[s] ?? NaN))]),
  };
}

/** One row per command (cargo, nix, git, bwrap runs inside the craft), one column per craft. */
function commandsTable(results: FixtureResult[]): Table {
  const commands = [...new Set(results.flatMap((r) => r.reps.flatMap((x) => Object.keys(x.craft.by_command))))].sort();
  const p50 = (r: FixtureResult, f: (x: Rep) => number) => ms(summarize(r.reps.map(f)).p50);
  return {
    title: "inside the craft: median ms per command (git and the crafted binary are Flakebot's own time), and the floor's",
    header: ["command", ...results.map((r) => `${r.fixture} (${r.backend})`)],
    rows: [
      ...commands.map((k) => [k, ...results.map((r) => p50(r, (x) => x.craft.by_command[k] ?? 0))]),
      ["floor: cargo build --release", ...results.map((r) => p50(r, (x) => x.floor.build_ms))],
      ["floor: cargo test --release", ...results.map((r) => p50(r, (x) => x.floor.test_ms))],
      ["floor: nix build", ...results.map((r) => (r.backend === "nix" ? p50(r, (x) => x.nix_floor_ms ?? NaN) : "-"))],
    ],
  };
}

function shareAim(r: FixtureResult): Aim {
  const total = summarize(r.reps.map((x) => x.craft.total_ms)).p50;
  const own = summarize(r.reps.map((x) => x.craft.own_ms)).p50;
  const share = (100 * own) / total;
  return { aim: `cold craft of ${r.fixture} (${r.backend}): Flakebot's own share < 5%`, value: `${share.toFixed(1)}% (${ms(own)} of ${ms(total)} ms)`, met: share < 5 };
}

export const craftBench: Benchmark = {
  name: "craft",
  title: "Cold craft vs bare cargo build + test (and bare nix build) of the same tree",
  async run(opts: BenchOptions) {
    const results: FixtureResult[] = [];
    const notes: string[] = [];
    results.push(await measureFixture("hello", opts.quick ? 3 : 5, "cargo"));
    // clapper builds clap 4 from source (~30 s cold here): only the full run has time for it.
    if (opts.quick) notes.push("clapper (clap 4) is measured by the full run only (npm run bench)");
    else results.push(await measureFixture("clapper", 3, "cargo"));
    const nix = await nixAvailable();
    if (!nix.available) notes.push(`Nix backend not measured: ${nix.reason}`);
    else {
      const r = await measureFixture("hello", opts.quick ? 1 : 3, "nix");
      results.push(r);
      const other = r.reps.find((x) => x.backend !== "nix");
      if (other) notes.push(`the Nix craft was packaged by ${other.backend}${other.fallback_reason ? `: ${other.fallback_reason}` : ""}; its floor is cargo's alone`);
    }
    const tables: Table[] = [
      {
        title: "cold craft vs floor (bare cargo build --release + cargo test --release in a fresh copy), median ms",
        header: ["craft", "runs", "craft", "craft range", "floor", "cargo+nix in craft", "Flakebot own", "own share", "craft - floor"],
        rows: results.map(row),
      },
      commandsTable(results),
      stagesTable(results),
    ];
    return { tables, data: { results }, aims: results.map(shareAim), notes };
  },
};
