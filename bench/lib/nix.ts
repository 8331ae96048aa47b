// The Nix backend offline: the tests' stand-in for nixpkgs (test/fixtures/nixpkgs-stub,
// building with the host's cargo against Debian's crates), as test/nix.test.ts uses it.
import fs from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { runChecked } from "../../src/exec/process.js";
import { DEBIAN_REGISTRY, fixturesDir } from "../../test/helpers/offline.js";

export interface NixStub {
  /** FLAKEBOT_NIXPKGS for the server: path:<stub>. */
  nixpkgs: string;
  env: Record<string, string>;
  /** A new per-run tag: every derivation built on the stub afterwards is new (a cold build). */
  retag(): Promise<void>;
}

export async function nixStub(dir: string): Promise<NixStub> {
  const stub = path.join(dir, "nixpkgs-stub");
  await fs.cp(path.join(fixturesDir, "nixpkgs-stub"), stub, { recursive: true });
  const sysroot = (await runChecked(["rustc", "--print", "sysroot"], { cwd: dir, env: process.env as Record<string, string> })).stdout.trim();
  const retag = () =>
    fs.writeFile(path.join(stub, "host.json"), JSON.stringify({ toolchainBin: path.join(sysroot, "bin"), registry: DEBIAN_REGISTRY, testRun: randomUUID() }));
  await retag();
  return {
    nixpkgs: `path:${stub}`,
    env: {
      FLAKEBOT_BACKEND: "nix",
      FLAKEBOT_NIXPKGS: `path:${stub}`,
      NIX_CONFIG: "experimental-features = nix-command flakes\nsubstituters =\nbuild-users-group =\nsandbox = false",
    },
    retag,
  };
}
