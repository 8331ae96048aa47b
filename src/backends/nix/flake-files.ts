// The files that make a crafted tool's repository a Nix flake: a constant flake.nix and a
// flakebot.json with everything that varies. Nothing from a crate, a user or an LLM is ever
// spliced into Nix source: flake.nix reads the JSON with builtins.fromJSON.
import { writeFileNoFollow } from "../../exec/safe-fs.js";
import path from "node:path";
import { DEFAULT_NIXPKGS } from "../../config.js";
import type { TargetInfo } from "../../model/craft.js";

export const FLAKE_FILE = "flake.nix";
export const DATA_FILE = "flakebot.json";
export const LOCK_FILE = "flake.lock";

/** What flake.nix reads from flakebot.json. */
export interface FlakeData {
  pname: string;
  version: string;
  /** The binary target: meta.mainProgram and the app's program. */
  bin: string;
  /** The Cargo workspace root (where Cargo.lock lives), relative to the repository; "" for its root. */
  root: string;
  /** The package's directory relative to `root` (buildAndTestSubdir); "" when it is the root package. */
  subdir: string;
  cargoBuildFlags: string[];
  /** openssl-sys in Cargo.lock: openssl as a build input and pkg-config to find it. */
  openssl: boolean;
  pkgConfig: boolean;
}

// Nix requires flake inputs to be literals, so the default pin is written here and any
// other FLAKEBOT_NIXPKGS is applied with `nix flake lock --override-input` (flake.lock
// then pins what was used). Guard the one value that is not part of this file's text.
if (!/^[A-Za-z0-9:/._?=&+-]+$/.test(DEFAULT_NIXPKGS)) {
  throw new Error(`DEFAULT_NIXPKGS "${DEFAULT_NIXPKGS}" is not a plain flake reference`);
}

export const FLAKE_NIX = `{
  description = "A command-line tool packaged by Flakebot; what varies is in flakebot.json";

  inputs.nixpkgs.url = "${DEFAULT_NIXPKGS}";

  outputs = { self, nixpkgs }:
    let
      cfg = builtins.fromJSON (builtins.readFile ./flakebot.json);
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.\${system});
      src = if cfg.root == "" then self else "\${self}/\${cfg.root}";

      package = pkgs: pkgs.rustPlatform.buildRustPackage {
        pname = cfg.pname;
        version = cfg.version;
        inherit src;
        # No vendor hash to compute ahead of time: dependencies come from Cargo.lock.
        cargoLock = {
          lockFile = "\${src}/Cargo.lock";
          allowBuiltinFetchGit = true;
        };
        buildAndTestSubdir = if cfg.subdir == "" then null else cfg.subdir;
        cargoBuildFlags = cfg.cargoBuildFlags;
        # The tests ran when the tool was crafted; many upstream suites need a network.
        doCheck = false;
        nativeBuildInputs = lib.optionals cfg.pkgConfig [ pkgs.pkg-config ];
        buildInputs = lib.optionals cfg.openssl [ pkgs.openssl ];
        meta.mainProgram = cfg.bin;
      };
    in
    {
      packages = forAllSystems (system: pkgs: { default = package pkgs; });
      apps = forAllSystems (system: pkgs: {
        default = {
          type = "app";
          program = "\${self.packages.\${system}.default}/bin/\${cfg.bin}";
        };
      });
    };
}
`;

/** True when Cargo.lock has a package named openssl-sys. */
export function needsOpenssl(cargoLock: string): boolean {
  return /^name\s*=\s*"openssl-sys"\s*$/m.test(cargoLock);
}

function slashes(rel: string): string {
  return rel.split(path.sep).join("/");
}

/**
 * The JSON data for a target. `root` is the Cargo workspace root relative to the
 * repository and `subdir` the package's directory relative to that root.
 */
export function flakeData(target: TargetInfo, layout: { root: string; subdir: string }, cargoLock: string): FlakeData {
  const openssl = needsOpenssl(cargoLock);
  return {
    pname: target.package,
    version: target.version,
    bin: target.bin,
    root: slashes(layout.root),
    subdir: slashes(layout.subdir),
    cargoBuildFlags: ["--bin", target.bin, ...(target.features?.length ? ["--features", target.features.join(",")] : [])],
    openssl,
    pkgConfig: openssl,
  };
}

/** Writes flake.nix and flakebot.json at the repository root `dir`. */
export async function writeFlakeFiles(dir: string, data: FlakeData): Promise<void> {
  // A source may have committed either as a link to a host file: replace, never write through.
  await writeFileNoFollow(dir, FLAKE_FILE, FLAKE_NIX);
  await writeFileNoFollow(dir, DATA_FILE, JSON.stringify(data, null, 2) + "\n");
}
