// The flake's toolchain for the modify loop: what `nix develop` of the tool's flake gives
// (its devShells.default, the package's own build inputs), so the loop's cargo build and
// test use the compiler the Nix build will use. The shell comes from a copy of the flake's
// files next to the workspace: the workspace itself stays as the LLM and upstream left it.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { TargetInfo } from "../../model/craft.js";
import { failureText, runNix } from "./cli.js";
import { DATA_FILE, FLAKE_FILE, LOCK_FILE, flakeData, writeFlakeFiles } from "./flake-files.js";
import { nixpkgsLock } from "./nixpkgs-lock.js";

export interface ToolchainOptions {
  /** The Cargo workspace root (where Cargo.lock is or will be). */
  cargoRoot: string;
  target: TargetInfo;
  nixpkgs: string;
  /** A directory of the tool's own for the shell's flake (replaced on each call). */
  dir: string;
  signal?: AbortSignal;
}

interface DevEnv {
  variables: Record<string, { type: string; value: unknown }>;
}

/** An empty lock: the shell needs no dependency of the crate, only its toolchain. */
const EMPTY_LOCK = "version = 3\n";

/** Dev shells already asked for, by the text of the flake's files: the same files give the same shell. */
const shells = new Map<string, string>();

/** Whether every store path on a PATH is still in the store (a garbage collection may have taken it). */
function stillInStore(shellPath: string): boolean {
  return shellPath.split(path.delimiter).every((dir) => !dir.startsWith("/nix/store/") || existsSync(dir));
}

/**
 * The environment additions (PATH first of all) that put the flake's toolchain before the
 * host's: `nix print-dev-env` of a flake with the tool's flake.nix and flakebot.json, its
 * nixpkgs locked as the package's flake.lock will be (nixpkgsLock).
 */
export async function flakeToolchainEnv(opts: ToolchainOptions): Promise<Record<string, string>> {
  await fs.rm(opts.dir, { recursive: true, force: true });
  await fs.mkdir(opts.dir, { recursive: true });
  const lock = await fs.readFile(path.join(opts.cargoRoot, "Cargo.lock"), "utf8").catch(() => EMPTY_LOCK);
  // Only the toolchain matters here: the dependencies' hashes are the package stage's, and
  // names and flags change nothing of the shell (so every crate with the same needs shares it).
  await fs.writeFile(path.join(opts.dir, "Cargo.lock"), EMPTY_LOCK);
  const needs = flakeData(opts.target, { root: "", subdir: "" }, lock);
  await writeFlakeFiles(opts.dir, { ...needs, pname: "flakebot-toolchain", version: "0", bin: "cargo", cargoBuildFlags: [], cargoTestFlags: [], checkFlags: [] });
  const flakeLock = await nixpkgsLock(opts.nixpkgs, { scratch: path.dirname(opts.dir), signal: opts.signal });
  await fs.writeFile(path.join(opts.dir, LOCK_FILE), flakeLock);
  const key = createHash("sha256");
  for (const file of [FLAKE_FILE, DATA_FILE, "Cargo.lock", LOCK_FILE]) key.update(`${file}\0${await fs.readFile(path.join(opts.dir, file), "utf8")}\0`);
  const id = key.digest("hex");
  let shellPath = shells.get(id);
  if (!shellPath || !stillInStore(shellPath)) {
    shellPath = await devShellPath(opts);
    shells.set(id, shellPath);
  }
  return { PATH: `${shellPath}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}` };
}

async function devShellPath(opts: ToolchainOptions): Promise<string> {
  const ref = `path:${pathToFileURL(opts.dir).pathname}`;
  const r = await runNix(["print-dev-env", "--json", "--no-write-lock-file", ref], {
    cwd: opts.dir,
    timeoutMs: 20 * 60_000,
    signal: opts.signal,
    maxOutputBytes: 16 * 1024 * 1024,
  });
  if (r.exitCode !== 0) throw new Error(`nix print-dev-env of the tool's flake (${DATA_FILE}) failed: ${failureText(r, 10)}`);
  const shellPath = (JSON.parse(r.stdout) as DevEnv).variables.PATH?.value;
  if (typeof shellPath !== "string" || !shellPath) throw new Error("the flake's dev shell has no PATH");
  return shellPath;
}
