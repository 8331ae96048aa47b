// Crafts share dependency builds: with sccache installed, cargo builds of different crates
// (under the build sandbox, as crafts run them) compile a dependency they share once.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { cargoBuild } from "../src/backends/cargo/cargo.js";
import { sharedCache, sharedCacheDir } from "../src/backends/cargo/shared-cache.js";
import { findOnPath } from "../src/exec/which.js";
import { findBwrap } from "../src/exec/sandbox.js";
import { fixtureRepo, testEnv } from "./helpers/offline.js";

const skip = !findOnPath("sccache") ? "sccache is not installed (apt-get install sccache)" : !findBwrap() ? "bwrap is not installed" : false;
const env = skip ? undefined : await testEnv();
after(() => (env ? fs.rm(env.dir, { recursive: true, force: true }) : undefined));

async function cacheEntries(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  return n;
}

test("a second craft of a crate with the same dependencies takes them from the shared compiler cache", { skip }, async () => {
  const home = env!.home;
  const saved = process.env.CARGO_HOME;
  process.env.CARGO_HOME = env!.env.CARGO_HOME;
  try {
    const cache = sharedCache(home)!;
    assert.equal(cache.env.SCCACHE_DIR, sharedCacheDir(home));
    const target = (pkg: string) => ({ package: pkg, version: "0.1.0", bin: pkg, dir: "", in_workspace: false, has_lockfile: true });
    const build = async (name: string, pkg: string) => {
      const ws = await fixtureRepo(pkg, path.join(env!.dir, name));
      const out = await cargoBuild(target(pkg), { cwd: ws, sandbox: true, env: cache.env, writable: cache.writable });
      assert.ok(out.ok, out.output);
    };
    await build("first", "kebab");
    const afterFirst = await cacheEntries(cache.env.SCCACHE_DIR);
    assert.ok(afterFirst > 0, "the first build filled the cache (heck's compile)");
    // Another checkout, another target directory: only the cache is shared.
    await build("second", "kebab");
    assert.equal(await cacheEntries(cache.env.SCCACHE_DIR), afterFirst, "nothing compiled again: every cacheable unit was a hit");
  } finally {
    if (saved === undefined) delete process.env.CARGO_HOME;
    else process.env.CARGO_HOME = saved;
  }
});

test("by default a craft's cargo runs share no compiler cache (a hostile build could poison it)", async () => {
  const { craftCargoRun } = await import("../src/craft/cargo-run.js");
  const { loadConfig } = await import("../src/config.js");
  const dir = await fs.mkdtemp(path.join((await import("node:os")).tmpdir(), "flakebot-cache-off-"));
  try {
    const target = { package: "x", version: "0.1.0", bin: "x", dir: "", in_workspace: false, has_lockfile: true };
    const ctx = (extra: Record<string, string>) => ({
      config: loadConfig({ FLAKEBOT_HOME: dir, ...extra }),
      paths: { workspace: dir },
      signal: new AbortController().signal,
    });
    const off = await craftCargoRun(ctx({}) as never, target, () => {});
    assert.equal(off.env?.RUSTC_WRAPPER, undefined);
    assert.equal(off.writable, undefined);
    if (!findOnPath("sccache")) return;
    const on = await craftCargoRun(ctx({ FLAKEBOT_SHARED_BUILD_CACHE: "sccache" }) as never, target, () => {});
    assert.match(on.env?.RUSTC_WRAPPER ?? "", /sccache$/);
    assert.deepEqual(on.writable, [sharedCacheDir(dir)]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
