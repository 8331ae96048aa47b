// package: the craft's backend turns the tested build into the tool's binary; with
// FLAKEBOT_BACKEND=auto a failed Nix build falls back to the cargo build, flagged.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { cargoBackend } from "../../backends/cargo/backend.js";

export const packageStage: StageFn = async (ctx, craft) => {
  const backend = ctx.backend ?? cargoBackend;
  try {
    return await backend.package(ctx, craft);
  } catch (err) {
    const fallback = ctx.fallback;
    if (!fallback || ctx.signal.aborted || !(err instanceof CraftError)) throw err;
    const reason = err.message.split("\n")[0].slice(0, 500);
    ctx.log(`${backend.name} build failed; falling back to the ${fallback.name} build (not reproducible): ${err.message}`);
    ctx.progress(`${backend.name} build failed: packaging the ${fallback.name} build instead (flagged as not reproducible)`);
    const packaged = await fallback.package(ctx, { ...craft, build: { ...craft.build!, backend: fallback.name } });
    return { build: { ...packaged.build!, backend: fallback.name, reproducible: false, fallback_reason: reason } };
  }
};
