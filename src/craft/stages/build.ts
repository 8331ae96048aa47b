// build, test and package with the cargo backend. The Nix backend replaces package.
import fs from "node:fs/promises";
import path from "node:path";
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { cargoBuild, cargoTest, type Diagnostic } from "../../backends/cargo/cargo.js";
import { treeHash } from "../../sources/git.js";
import { buildKey, cacheDir, lookupBuild, recordBuild } from "../../backends/cache.js";
import type { Craft } from "../../model/craft.js";
import { addGcRoot } from "../../backends/nix/nix.js";
import { buildFailureMessage } from "../../backends/build-failure.js";

function describeErrors(diagnostics: Diagnostic[], output: string): string {
  const errors = diagnostics.filter((d) => d.level === "error").slice(0, 5);
  const text = errors.length > 0 ? errors.map((d) => d.rendered.trim()).join("\n\n") : output;
  return text.length > 6000 ? `${text.slice(0, 6000)}\n[...]` : text;
}

function needTarget(craft: Craft) {
  if (!craft.target) throw new Error("build stage reached without a target (a bug: acquire sets it)");
  return craft.target;
}

/**
 * Looks the tree up in the build cache; on a miss runs `cargo build --release`.
 * `backend` is decided by the orchestrator and carried in from the previous record.
 */
export function buildStage(backend: "nix" | "cargo"): StageFn {
  return async (ctx, craft) => {
    const target = needTarget(craft);
    const key = buildKey(await treeHash(ctx.paths.workspace), target, backend);
    const cached = await lookupBuild(ctx.config.home, key);
    if (cached) {
      ctx.log(`identical tree built before (key ${key}): reusing ${cached.build.binary}`);
      if (cached.build.store_path) await addGcRoot(cached.build.store_path, ctx.paths.gcroot, ctx.signal);
      return { build: { ...cached.build, cached: true, duration_ms: 0 }, tests: cached.tests };
    }
    ctx.progress(`cargo build --release (${target.package}, bin ${target.bin})`);
    const started = Date.now();
    const outcome = await cargoBuild(target, { cwd: ctx.paths.workspace, signal: ctx.signal, sandbox: ctx.sandboxBuilds, onLine: (l) => ctx.log(l) });
    if (!outcome.ok) {
      throw new CraftError("build", buildFailureMessage("cargo build", outcome.diagnostics, outcome.output, ctx.paths.workspace));
    }
    if (outcome.lockRegenerated) ctx.log(`Cargo.lock was regenerated: ${outcome.lockRegenerated}`);
    return {
      build: { backend, reproducible: false, binary: outcome.executable!, duration_ms: Date.now() - started, key },
    };
  };
}

export const testStage: StageFn = async (ctx, craft) => {
  const target = needTarget(craft);
  ctx.progress(`cargo test --release (${target.package})`);
  const outcome = await cargoTest(target, { cwd: ctx.paths.workspace, signal: ctx.signal, sandbox: ctx.sandboxBuilds, onLine: (l) => ctx.log(l) });
  if (!outcome.ok) {
    const what = outcome.failed > 0 ? `${outcome.failed} test(s) failed: ${outcome.failures.join(", ")}` : "the tests did not compile or run";
    throw new CraftError("test", `cargo test: ${what}\n${describeErrors(outcome.diagnostics, outcome.output)}`);
  }
  // Acceptance counts come from modify and verify; this stage owns the Rust test counts.
  return { tests: { acceptance_passed: 0, acceptance_failed: 0, ...craft.tests, passed: outcome.passed, failed: 0 } };
};

/** The cargo backend's package step: the binary is copied out of target/ into the cache. */
export const cargoPackage: StageFn = async (ctx, craft) => {
  const build = craft.build!;
  const dir = path.join(cacheDir(ctx.config.home, build.key), "bin");
  await fs.mkdir(dir, { recursive: true });
  const binary = path.join(dir, path.basename(build.binary));
  await fs.copyFile(build.binary, binary);
  await fs.chmod(binary, 0o755);
  const packaged = { ...build, binary };
  await recordBuild(ctx.config.home, build.key, { build: packaged, tests: craft.tests });
  return { build: packaged };
};
