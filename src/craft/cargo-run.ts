// How a craft runs cargo on its workspace (the cargo backend's build and test, the modify
// loop): sandboxed as the craft decided, through the compiler cache crafts share when
// FLAKEBOT_SHARED_BUILD_CACHE=sccache, and with
// the toolchain of the craft's backend (the flake's dev shell for Nix).
import type { CargoRun } from "../backends/cargo/cargo.js";
import { sharedCache } from "../backends/cargo/shared-cache.js";
import type { TargetInfo } from "../model/craft.js";
import type { StageContext } from "./context.js";

export async function craftCargoRun(ctx: StageContext, target: TargetInfo, onLine: (line: string) => void): Promise<CargoRun> {
  const cache = ctx.config.sharedBuildCache === "sccache" ? sharedCache(ctx.config.home) : undefined;
  const toolchain = ctx.backend?.toolchain ? await ctx.backend.toolchain(ctx, target) : undefined;
  return {
    cwd: ctx.paths.workspace,
    signal: ctx.signal,
    sandbox: ctx.sandboxed,
    onLine,
    env: { ...cache?.env, ...toolchain },
    writable: cache?.writable,
  };
}
