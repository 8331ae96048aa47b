// package with the Nix backend, and the flagged cargo fallback FLAKEBOT_BACKEND=auto allows.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { nixPackage } from "../../backends/nix/nix.js";
import { cargoPackage } from "./build.js";

export function nixOrCargoPackage(fallbackToCargo: boolean): StageFn {
  return async (ctx, craft) => {
    try {
      return await nixPackage(ctx, craft);
    } catch (err) {
      if (!fallbackToCargo || ctx.signal.aborted || !(err instanceof CraftError)) throw err;
      const reason = err.message.split("\n")[0].slice(0, 500);
      ctx.log(`nix build failed; falling back to the cargo build (not reproducible): ${err.message}`);
      ctx.progress("nix build failed: packaging the cargo build instead (flagged as not reproducible)");
      const packaged = await cargoPackage(ctx, { ...craft, build: { ...craft.build!, backend: "cargo" } });
      return { build: { ...packaged.build!, backend: "cargo", reproducible: false, fallback_reason: reason } };
    }
  };
}
