// The stand-in nixpkgs (test/fixtures/nixpkgs-stub) prepared for one test run: it learns the
// host's Rust toolchain and Debian's crate registry from host.json, and a run id keeps this
// run's store paths apart from an earlier run's.
import fs from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { runChecked } from "../../src/exec/process.js";
import { DEBIAN_REGISTRY, fixturesDir } from "./offline.js";

/** Nix settings for an offline machine: no substituters, no build users, no sandbox. */
export const OFFLINE_NIX_CONFIG = "substituters =\nbuild-users-group =\nsandbox = false";

/** Copies the stand-in into `dir` and returns its flake reference (path:...). */
export async function prepareNixpkgsStub(dir: string): Promise<string> {
  const stub = path.join(dir, "nixpkgs-stub");
  await fs.cp(path.join(fixturesDir, "nixpkgs-stub"), stub, { recursive: true });
  const sysroot = (await runChecked(["rustc", "--print", "sysroot"], { cwd: dir, env: process.env as Record<string, string> })).stdout.trim();
  await fs.writeFile(
    path.join(stub, "host.json"),
    JSON.stringify({ toolchainBin: path.join(sysroot, "bin"), registry: DEBIAN_REGISTRY, testRun: randomUUID() }),
  );
  return `path:${stub}`;
}
