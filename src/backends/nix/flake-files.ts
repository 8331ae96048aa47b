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

/**
 * The check phase (the crate's tests, with the flake's toolchain):
 * - "gate": nixpkgs' cargoCheckHook; a failing test fails the build (checkFlags skip the
 *   known failures);
 * - "record": the whole suite runs, and the build goes on whatever it reports, printing
 *   the check phase's exit status (CHECK_STATUS): the first build of an unmodified crate,
 *   whose verdicts are its baseline, read from the build log;
 * - "off": no check phase (a published flake whose tests do not compile here; checkNote says why).
 */
export type CheckMode = "gate" | "record" | "off";

/** The line a "record" check phase ends with: `flakebot-check: exit status <n>`. */
export const CHECK_STATUS = "flakebot-check: exit status";

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
  /** cargo test's own flags in the check phase: every test binary even after one fails, and the binary's features (as the cargo backend tests). */
  cargoTestFlags: string[];
  /** How the check phase treats the crate's tests (CheckMode). */
  checkMode: CheckMode;
  /** Why the check phase is off (checkMode "off"), for whoever reads the flake. */
  checkNote?: string;
  /** Arguments for the test binaries: `--skip` for upstream tests that failed before any change. */
  checkFlags: string[];
  /** Git dependencies pinned by the NAR hash of their tree (`name-version` -> SRI hash). */
  outputHashes: Record<string, string>;
  /** openssl-sys in Cargo.lock: openssl as a build input and pkg-config to find it. */
  openssl: boolean;
  pkgConfig: boolean;
}

// Nix requires flake inputs and nixConfig to be literals, so the default pin and the binary
// cache are written here; any other FLAKEBOT_NIXPKGS is applied with `nix flake lock
// --override-input` (flake.lock then pins what was used). Guard the values that are not part
// of this file's text: they come from the operator's configuration, never from a crate.
const PLAIN_REF = /^[A-Za-z0-9:/._?=&+%@~-]+$/;
if (!PLAIN_REF.test(DEFAULT_NIXPKGS)) {
  throw new Error(`DEFAULT_NIXPKGS "${DEFAULT_NIXPKGS}" is not a plain flake reference`);
}

/** The nixConfig line for FLAKEBOT_NIX_CACHE (so `nix build` of the flake offers to use it). */
function nixConfigLine(cache: string | undefined): string {
  if (!cache) return "";
  if (!PLAIN_REF.test(cache)) throw new Error(`FLAKEBOT_NIX_CACHE "${cache}" is not a plain store URL: use letters, digits and :/._?=&+%@~- only`);
  return `\n  nixConfig.extra-substituters = [ "${cache}" ];\n`;
}

/** flake.nix: constant but for the binary cache (FLAKEBOT_NIX_CACHE), when there is one. */
export function flakeNix(cache?: string): string {
  return `{
  description = "A command-line tool packaged by Flakebot; what varies is in flakebot.json";

  inputs.nixpkgs.url = "${DEFAULT_NIXPKGS}";
${nixConfigLine(cache)}
  outputs = { self, nixpkgs }:
    let
      cfg = builtins.fromJSON (builtins.readFile ./flakebot.json);
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.\${system});
      src = if cfg.root == "" then self else "\${self}/\${cfg.root}";
      checkMode = cfg.checkMode or "gate";
      # "record" (see flakebot.json's checkMode): stdenv runs each phase under set -e, which
      # a function called from a condition (if, ||) silently loses; so the hook runs in a
      # subshell of its own with set -e, and its status is printed, not returned.
      recordCheck = ''
        set +e
        ( set -e; cargoCheckHook )
        flakebotCheckStatus=$?
        set -e
        echo "${CHECK_STATUS} $flakebotCheckStatus"
      '';

      package = pkgs: pkgs.rustPlatform.buildRustPackage {
        pname = cfg.pname;
        version = cfg.version;
        inherit src;
        # Every dependency is fetched by its hash: crates by their Cargo.lock checksum,
        # git dependencies by the tree hashes Flakebot computed when it crafted the tool.
        cargoLock = {
          lockFile = "\${src}/Cargo.lock";
          outputHashes = cfg.outputHashes;
        };
        buildAndTestSubdir = if cfg.subdir == "" then null else cfg.subdir;
        cargoBuildFlags = cfg.cargoBuildFlags;
        # The crate's tests run here, with this flake's toolchain and the binary's features:
        # every test binary, even after one fails, so that the log names every failure.
        doCheck = checkMode != "off";
        checkPhase = if checkMode == "record" then recordCheck else "cargoCheckHook";
        cargoTestFlags = cfg.cargoTestFlags or [ "--no-fail-fast" ];
        checkFlags = cfg.checkFlags;
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
      # The build runs the test suite (in checkMode "gate" a failing test fails it), so the package is the check.
      checks = forAllSystems (system: pkgs: { default = self.packages.\${system}.default; });
      # The toolchain the package builds with, for \`nix develop\` and Flakebot's modify loop.
      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell { inputsFrom = [ self.packages.\${system}.default ]; };
      });
    };
}
`;
}

/** The flake.nix without a binary cache. */
export const FLAKE_NIX = flakeNix();

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
export function flakeData(
  target: TargetInfo,
  layout: { root: string; subdir: string },
  cargoLock: string,
  pins: { knownFailures?: string[]; outputHashes?: Record<string, string>; checkMode?: CheckMode; checkNote?: string } = {},
): FlakeData {
  const openssl = needsOpenssl(cargoLock);
  const features = target.features?.length ? ["--features", target.features.join(",")] : [];
  return {
    pname: target.package,
    version: target.version,
    bin: target.bin,
    root: slashes(layout.root),
    subdir: slashes(layout.subdir),
    cargoBuildFlags: ["--bin", target.bin, ...features],
    cargoTestFlags: ["--no-fail-fast", ...features],
    checkMode: pins.checkMode ?? "gate",
    ...(pins.checkNote ? { checkNote: pins.checkNote } : {}),
    checkFlags: checkFlags(pins.knownFailures ?? []),
    outputHashes: pins.outputHashes ?? {},
    openssl,
    pkgConfig: openssl,
  };
}

/**
 * libtest's arguments in the check phase: plain verdicts (Nix gives builders a terminal, and
 * its log filter leaves pieces of colour codes), and `--skip` for exactly these tests
 * (gate ids; without --exact, --skip matches substrings).
 */
export function checkFlags(skip: string[]): string[] {
  return ["--color", "never", ...(skip.length ? ["--exact", ...skip.flatMap((id) => ["--skip", libtestName(id)])] : [])];
}

/** How a published flake checks: skipping these upstream failures, or not at all, for this reason. */
export type PublishedCheck = { skip: string[] } | { off: string };

/** The same flake with a gating check phase instead of a recording one. */
export function publishedData(data: FlakeData, check: PublishedCheck): FlakeData {
  const { checkNote: _note, ...rest } = data;
  if ("off" in check) return { ...rest, checkMode: "off", checkNote: check.off, checkFlags: checkFlags([]) };
  return { ...rest, checkMode: "gate", checkFlags: checkFlags(check.skip) };
}

/** A gate test id (`target::name`, the target a path or "doc-tests") -> libtest's own name. */
function libtestName(id: string): string {
  const at = id.indexOf("::");
  return at < 0 ? id : id.slice(at + 2);
}

/** Writes flake.nix and flakebot.json at the repository root `dir`. */
export async function writeFlakeFiles(dir: string, data: FlakeData, cache?: string): Promise<void> {
  // A source may have committed either as a link to a host file: replace, never write through.
  await writeFileNoFollow(dir, FLAKE_FILE, flakeNix(cache));
  await writeFileNoFollow(dir, DATA_FILE, JSON.stringify(data, null, 2) + "\n");
}
