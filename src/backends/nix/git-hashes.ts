// outputHashes for a Cargo.lock's git dependencies, computed at craft time: nixpkgs fetches
// each locked commit with fetchgit (submodules included, .git removed) and checks the tree's
// NAR hash, so nothing is fetched during evaluation and the flake stays reproducible.
import fs from "node:fs/promises";
import path from "node:path";
import { runGit } from "../../sources/git.js";
import { runNix, failureText } from "./cli.js";
import type { GitSource } from "./cargo-lock.js";

async function removeGitDirs(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.name === ".git") await fs.rm(full, { recursive: true, force: true });
    else if (entry.isDirectory() && !entry.isSymbolicLink()) await removeGitDirs(full);
  }
}

/** The SRI hash of one locked commit's tree, as fetchgit produces it. */
export async function gitTreeHash(source: GitSource, scratch: string, signal?: AbortSignal): Promise<string> {
  await fs.mkdir(scratch, { recursive: true });
  const dir = await fs.mkdtemp(path.join(scratch, "git-dep-"));
  try {
    await runGit(scratch, ["clone", "--quiet", "--no-checkout", "--", source.url, dir], { signal });
    await runGit(dir, ["checkout", "--quiet", "--detach", source.commit], { signal });
    await runGit(dir, ["submodule", "update", "--quiet", "--init", "--recursive"], { signal });
    await removeGitDirs(dir);
    const r = await runNix(["hash", "path", "--type", "sha256", dir], { cwd: scratch, timeoutMs: 600_000, signal });
    if (r.exitCode !== 0) throw new Error(`nix hash path failed: ${failureText(r, 5)}`);
    return r.stdout.trim();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `name-version` -> hash for every package of every git source. */
export async function gitOutputHashes(sources: GitSource[], scratch: string, signal?: AbortSignal): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const source of sources) {
    let hash: string;
    try {
      hash = await gitTreeHash(source, scratch, signal);
    } catch (err) {
      throw new Error(`cannot pin the git dependency ${source.url} at ${source.commit}: ${(err as Error).message}`);
    }
    for (const key of source.packages) hashes[key] = hash;
  }
  return hashes;
}
