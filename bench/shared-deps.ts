// Crafts share dependency builds: a second clap-based crate built after a first one, with
// each craft compiling alone (before) and through the shared sccache cache (after), built
// as crafts build (cargo build --release under the build sandbox).
import path from "node:path";
import { benchEnv, type BenchEnv } from "./lib/env.js";
import { fixtureVariant } from "./lib/fixtures.js";
import { ms } from "./lib/stats.js";
import { cargoBuild } from "../src/backends/cargo/cargo.js";
import { sharedCache } from "../src/backends/cargo/shared-cache.js";
import type { Benchmark } from "./lib/types.js";

const clapper = { package: "clapper", version: "0.2.0", bin: "clapper", dir: "", in_workspace: false, has_lockfile: false };

async function buildVariant(benv: BenchEnv, tag: string, env: Record<string, string>, writable: string[]): Promise<number> {
  const dir = await fixtureVariant("clapper", path.join(benv.dir, tag), tag);
  const saved = process.env.CARGO_HOME;
  process.env.CARGO_HOME = benv.env.CARGO_HOME;
  try {
    const start = performance.now();
    const out = await cargoBuild(clapper, { cwd: dir, sandbox: true, env, writable });
    if (!out.ok) throw new Error(`cargo build of ${tag} failed: ${out.output}`);
    return performance.now() - start;
  } finally {
    if (saved === undefined) delete process.env.CARGO_HOME;
    else process.env.CARGO_HOME = saved;
  }
}

export const sharedDepsBench: Benchmark = {
  name: "shared-deps",
  title: "A second clap-based crate after a first: alone vs through the shared compiler cache",
  async run() {
    const benv = await benchEnv({}, { timing: false });
    try {
      const cache = sharedCache(benv.home);
      if (!cache) return { tables: [], data: {}, aims: [], notes: ["not measured: sccache is not installed (apt-get install sccache)"] };
      const before = await buildVariant(benv, "second-alone", {}, []);
      const first = await buildVariant(benv, "first-shared", cache.env, cache.writable);
      const after = await buildVariant(benv, "second-shared", cache.env, cache.writable);
      return {
        tables: [
          {
            title: "cargo build --release of clapper (clap 4 from source), sandboxed, ms",
            header: ["build", "ms"],
            rows: [
              ["second crate, compiling alone (before)", ms(before)],
              ["first crate, filling the shared cache", ms(first)],
              ["second crate, through the shared cache (after)", ms(after)],
            ],
          },
        ],
        data: { before_ms: before, first_ms: first, after_ms: after },
        aims: [{ aim: "a second crate sharing dependencies builds measurably faster", value: `${ms(before)} -> ${ms(after)} ms`, met: after < before * 0.8 }],
        notes: ["each build has its own checkout and target directory; only sccache's cache (FLAKEBOT_HOME/cache/sccache) is shared"],
      };
    } finally {
      await benv.cleanup();
    }
  },
};
