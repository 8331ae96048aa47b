// The cargo backend: the binary of the tested `cargo build --release`, copied into the
// build cache. Not reproducible, and flagged so.
import fs from "node:fs/promises";
import path from "node:path";
import type { Backend } from "../backend.js";
import { cacheDir, recordBuild } from "../cache.js";
import { cargoVersion, readBuildOutput } from "./cargo.js";
import { CraftError } from "../../model/errors.js";

export const cargoBackend: Backend = {
  name: "cargo",

  async probe(signal) {
    const version = await cargoVersion(signal);
    return version
      ? { available: true, version }
      : { available: false, reason: "cargo is not on PATH: install Rust (https://rustup.rs, or apt-get install cargo)" };
  },

  async package(ctx, craft) {
    const build = craft.build!;
    const dir = path.join(cacheDir(ctx.config.home, build.key), "bin");
    await fs.mkdir(dir, { recursive: true });
    const binary = path.join(dir, path.basename(build.binary));
    // The build and its tests ran the crate's code, which may have swapped the binary for a link.
    const data = await readBuildOutput(build.binary, ctx.paths.workspace).catch((err: Error) => {
      throw new CraftError("package", `the built binary cannot be trusted: ${err.message}. Nothing was packaged`);
    });
    await fs.writeFile(binary, data, { mode: 0o755 });
    await fs.chmod(binary, 0o755);
    const packaged = { ...build, backend: "cargo" as const, binary };
    await recordBuild(ctx.config.home, build.key, { build: packaged, tests: craft.tests });
    return { build: packaged };
  },

  async reuse() {
    // the cached binary is shared in place; dispose keeps it while another tool uses it
  },

  async dispose() {
    return []; // its only product is the cached binary, which the build cache releases
  },
};
