// build: reuse an identical earlier build, or run `cargo build --release` (sandboxed).
import { type StageFn } from "../context.js";
import { craftCargoRun } from "../cargo-run.js";
import { CraftError } from "../../model/errors.js";
import { cargoBuild } from "../../backends/cargo/cargo.js";
import { treeHash } from "../../sources/git.js";
import { buildKey, lookupBuild } from "../../backends/cache.js";
import { backendNamed } from "../../backends/select.js";
import { needTarget } from "./build-errors.js";
import { buildFailureMessage } from "../../backends/build-failure.js";

export const buildStage: StageFn = async (ctx, craft) => {
  const target = needTarget(craft);
  const backend = ctx.backend?.name ?? "cargo";
  const key = buildKey(await treeHash(ctx.paths.workspace), target, backend);
  const cached = await lookupBuild(ctx.config.home, key);
  if (cached) {
    ctx.log(`identical tree built before (key ${key}): reusing ${cached.build.binary}`);
    await backendNamed(cached.build.backend).reuse(ctx, cached.build);
    return { build: { ...cached.build, cached: true, duration_ms: 0 }, tests: cached.tests };
  }
  // With Nix the one compile is the nix build (package), the tests in its check phase.
  if (backend === "nix") return {};
  ctx.progress(`cargo build --release (${target.package}, bin ${target.bin})`);
  const started = Date.now();
  const outcome = await cargoBuild(target, await craftCargoRun(ctx, target, (l) => ctx.log(l)));
  if (!outcome.ok) {
    throw new CraftError("build", buildFailureMessage("cargo build", outcome.diagnostics, outcome.output, ctx.paths.workspace));
  }
  if (outcome.lockRegenerated) ctx.log(`Cargo.lock was regenerated: ${outcome.lockRegenerated}`);
  return {
    build: { backend, reproducible: false, binary: outcome.executable!, duration_ms: Date.now() - started, key },
  };
};
