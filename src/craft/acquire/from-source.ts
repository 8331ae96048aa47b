// acquire: get the source into the tool's workspace as a git repository on the branch
// flakebot/<tool>, then find the package and binary to expose.
import { withToolchainNote } from "../../backends/build-failure.js";
import fs from "node:fs/promises";
import path from "node:path";
import { type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import type { Craft, SourceInfo, TargetInfo } from "../../model/craft.js";
import { cloneRepo, headCommit, initRepo, isGitUrl, runGit, treeHash } from "../../sources/git.js";
import { forkFacts, forkIfPossible } from "./fork.js";
import { copyTreeNoLinks } from "../../exec/safe-fs.js";
import { cargoMetadata, hasLockfile, selectTarget } from "../../backends/cargo/cargo.js";

/** Never copied from a local source: its build output at the top, git's data anywhere. */
const SKIP_AT_TOP = new Set(["target", "result"]);

function notCopied(rel: string): boolean {
  return path.basename(rel) === ".git" || SKIP_AT_TOP.has(rel);
}

async function isGitRepo(dir: string): Promise<boolean> {
  try {
    return (await runGit(dir, ["rev-parse", "--show-toplevel"])).trim() === (await fs.realpath(dir));
  } catch {
    return false;
  }
}

async function fromDirectory(ctx: StageContext, given: string): Promise<SourceInfo> {
  let stat;
  // A source that is a link (into the user's own repository, say) is read where it leads,
  // and only ever copied from: nothing is written, committed or built there.
  const dir = await fs.realpath(given).catch(() => given);
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new CraftError("acquire", `source "${dir}" does not exist: give the absolute path of a directory with a Cargo.toml, or a git URL`);
  }
  if (!stat.isDirectory()) throw new CraftError("acquire", `source "${dir}" is not a directory: give a cargo project's directory or a git URL`);
  try {
    await fs.access(path.join(dir, "Cargo.toml"));
  } catch {
    throw new CraftError("acquire", `source "${dir}" is not a cargo project (it has no Cargo.toml): point "source" at the directory that holds Cargo.toml`);
  }
  const repo = await isGitRepo(dir);
  if (ctx.request.rev) {
    if (!repo) throw new CraftError("acquire", `"rev" needs a git repository, and "${dir}" is not one: drop "rev" or point at a repository`);
    return fromGit(ctx, dir);
  }
  ctx.progress(`copying ${dir}`);
  const copy = await copyTreeNoLinks(dir, ctx.paths.workspace, notCopied);
  if (copy.skippedLinks.length) ctx.log(`acquire: left out symbolic links that lead out of the source: ${copy.skippedLinks.join(", ")}`);
  if (copy.skippedSpecial.length) ctx.log(`acquire: left out files that are not regular files: ${copy.skippedSpecial.join(", ")}`);
  const base = await initRepo(ctx.paths.workspace, "upstream snapshot");
  let commit = base;
  let dirty = false;
  if (repo) {
    // No git command that reads the user's worktree (status runs fsmonitor and filters from
    // their config): the snapshot differs from HEAD exactly when the copy's tree does.
    commit = await headCommit(dir);
    dirty = (await treeHash(dir)) !== (await treeHash(ctx.paths.workspace));
  }
  return { url: dir, rev: "", commit, base, origin: "directory", ...(dirty ? { dirty } : {}) };
}

async function fromGit(ctx: StageContext, url: string): Promise<SourceInfo> {
  ctx.progress(`cloning ${url}${ctx.request.rev ? ` at ${ctx.request.rev}` : ""}`);
  try {
    await cloneRepo(url, ctx.paths.workspace, { rev: ctx.request.rev, shallow: true, signal: ctx.signal });
  } catch (err) {
    const why = (err as Error).message.trim().split("\n").slice(-3).join(" ");
    throw new CraftError("acquire", `could not clone ${url}${ctx.request.rev ? ` at "${ctx.request.rev}"` : ""}: ${why}. Check the URL, the revision and that the repository is reachable`);
  }
  const commit = await headCommit(ctx.paths.workspace);
  // A GitHub source is forked as a crate's repository is: the tool's branch is pushed there.
  const forked = isGitUrl(url) ? forkFacts(await forkIfPossible(ctx, url)) : {};
  return { url, rev: ctx.request.rev ?? "", commit, base: commit, origin: "git", ...forked };
}

/** Finds the package and binary to expose in the workspace. */
export async function locateTarget(ctx: StageContext, craft: Craft): Promise<TargetInfo> {
  const ws = ctx.paths.workspace;
  try {
    await fs.access(path.join(ws, "Cargo.toml"));
  } catch {
    throw new CraftError("acquire", `the source has no Cargo.toml at its root: it is not a cargo project`);
  }
  try {
    const meta = await cargoMetadata({ cwd: ws, signal: ctx.signal, sandbox: ctx.sandboxed });
    return selectTarget(meta, ws, { package: ctx.request.package ?? craft.crate?.name, bin: ctx.request.bin, features: ctx.request.features }, hasLockfile(ws));
  } catch (err) {
    throw new CraftError("acquire", withToolchainNote((err as Error).message, ws));
  }
}

/**
 * Puts the workspace on the tool's own branch, where every change is committed, and keeps
 * build output out of those commits (a crate need not ignore its own target/).
 */
export async function startBranch(ctx: StageContext, name: string): Promise<void> {
  await fs.appendFile(path.join(ctx.paths.workspace, ".git", "info", "exclude"), "\n/target/\n/result\n");
  await runGit(ctx.paths.workspace, ["checkout", "--quiet", "-B", `flakebot/${name}`]);
}

export const acquireSource: StageFn = async (ctx, craft) => {
  const source = ctx.request.source!;
  const info = isGitUrl(source) ? await fromGit(ctx, source) : await fromDirectory(ctx, path.resolve(source));
  await startBranch(ctx, craft.name);
  const target = await locateTarget(ctx, craft);
  return { source: info, target };
};
