// package with the Nix backend, and the flagged cargo fallback FLAKEBOT_BACKEND=auto allows.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { nixPackage } from "../../backends/nix/nix.js";
import { buildStage, cargoPackage, testStage } from "./build.js";
import type { StageContext } from "../context.js";
import type { Craft } from "../../model/craft.js";

/** The cargo backend's build, test and package, after the Nix backend could not be used. */
async function cargoInstead(ctx: StageContext, craft: Craft): Promise<Partial<Craft>> {
  let record = { ...craft, ...(await buildStage("cargo")(ctx, craft)) };
  if (!record.build?.cached) record = { ...record, ...(await testStage(ctx, record)), ...(await cargoPackage(ctx, record)) };
  return { build: record.build, tests: record.tests };
}

export function nixOrCargoPackage(fallbackToCargo: boolean): StageFn {
  return async (ctx, craft) => {
    try {
      return await nixPackage(ctx, craft);
    } catch (err) {
      // Failing tests are the crate's, whichever backend runs them: no fallback for those.
      if (!fallbackToCargo || ctx.signal.aborted || !(err instanceof CraftError) || err.stage !== "package") throw err;
      const reason = err.message.split("\n")[0].slice(0, 500);
      ctx.log(`nix build failed; falling back to the cargo build (not reproducible): ${err.message}`);
      ctx.progress("nix build failed: packaging the cargo build instead (flagged as not reproducible)");
      const packaged = await cargoInstead(ctx, craft);
      return { ...packaged, build: { ...packaged.build!, backend: "cargo", reproducible: false, fallback_reason: reason } };
    }
  };
}
