// The flake's toolchain for the modify loop: what `nix develop` of the tool's flake gives
// (its devShells.default, the package's own build inputs), so the loop's cargo build and
// test use the compiler the Nix build will use. The shell comes from a copy of the flake's
// files next to the workspace: the workspace itself stays as the LLM and upstream left it.
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { TargetInfo } from "../../model/craft.js";
import { failureText, runNix } from "./cli.js";
import { DATA_FILE, flakeData, writeFlakeFiles } from "./flake-files.js";

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

/**
 * The environment additions (PATH first of all) that put the flake's toolchain before the
 * host's: `nix print-dev-env` of a flake with the tool's flake.nix and flakebot.json.
 */
export async function flakeToolchainEnv(opts: ToolchainOptions): Promise<Record<string, string>> {
  await fs.rm(opts.dir, { recursive: true, force: true });
  await fs.mkdir(opts.dir, { recursive: true });
  const lock = await fs.readFile(path.join(opts.cargoRoot, "Cargo.lock"), "utf8").catch(() => EMPTY_LOCK);
  // Only the toolchain matters here: the dependencies' hashes are the package stage's.
  await fs.writeFile(path.join(opts.dir, "Cargo.lock"), EMPTY_LOCK);
  await writeFlakeFiles(opts.dir, flakeData(opts.target, { root: "", subdir: "" }, lock));
  const ref = `path:${pathToFileURL(opts.dir).pathname}`;
  const r = await runNix(["print-dev-env", "--json", "--no-write-lock-file", "--override-input", "nixpkgs", opts.nixpkgs, ref], {
    cwd: opts.dir,
    timeoutMs: 20 * 60_000,
    signal: opts.signal,
    maxOutputBytes: 16 * 1024 * 1024,
  });
  if (r.exitCode !== 0) throw new Error(`nix print-dev-env of the tool's flake (${DATA_FILE}) failed: ${failureText(r, 10)}`);
  const shellPath = (JSON.parse(r.stdout) as DevEnv).variables.PATH?.value;
  if (typeof shellPath !== "string" || !shellPath) throw new Error("the flake's dev shell has no PATH");
  return { PATH: `${shellPath}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}` };
}
