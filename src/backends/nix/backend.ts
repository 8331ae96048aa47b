// The Nix backend: a flake per tool, built with `nix build` into a GC root.
import fs from "node:fs/promises";
import type { Backend } from "../backend.js";
import { addGcRoot, disposeNix, nixAvailable, nixPackage, nixToolchain } from "./nix.js";

export const nixBackend: Backend = {
  name: "nix",
  probe: (signal) => nixAvailable(signal),
  package: nixPackage,
  toolchain: nixToolchain,
  async reuse(ctx, build) {
    if (build.store_path) await addGcRoot(build.store_path, ctx.paths.gcroot, ctx.signal);
  },
  async dispose(paths, craft) {
    const rooted = await fs.lstat(paths.gcroot).then(() => true, () => false);
    if (!rooted && !craft?.build?.store_path) return [];
    return disposeNix(paths.gcroot, craft?.build?.store_path);
  },
};
