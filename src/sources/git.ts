// Every git operation goes through simple-git created here: argv arrays (simple-git never
// uses a shell and refuses unsafe options such as --upload-pack), the toolchain's
// environment without secrets, a timeout for a stuck remote, and the craft's AbortSignal.
import { rm } from "node:fs/promises";
import { simpleGit, type SimpleGit } from "simple-git";
import { gitEnv } from "../exec/env.js";

export { gitEnv };

const IDENTITY = ["user.name=Flakebot", "user.email=flakebot@localhost", "commit.gpgsign=false", "advice.detachedHead=false"];

export function git(dir: string, signal?: AbortSignal, timeoutMs = 300_000): SimpleGit {
  return simpleGit({
    baseDir: dir,
    config: IDENTITY,
    abort: signal,
    timeout: { block: timeoutMs },
    // The environment (gitEnv) is the operator's own: trusted. Options from requests are
    // never passed through as options (a revision is checked not to start with "-").
    unsafe: {
      allowUnsafeConfigPaths: true,
      allowUnsafeConfigEnvCount: true,
      allowUnsafeSshCommand: true,
      allowUnsafeAskPass: true,
      allowUnsafeCredentialHelper: true,
      // These name settings gitEnv() itself pins to safe values (no monitor, no hooks, cat).
      allowUnsafeFsMonitor: true,
      allowUnsafeHooksPath: true,
      allowUnsafePager: true,
      allowUnsafeEditor: true,
      allowUnsafeProtocolOverride: true,
    },
  }).env(gitEnv());
}

/** True for the URL forms craft_tool accepts as git sources. */
export function isGitUrl(source: string): boolean {
  return /^(https?|ssh|git|file):\/\//.test(source) || /^[\w.-]+@[\w.-]+:[^/]/.test(source);
}

export interface CloneOptions {
  rev?: string;
  /** Try a shallow clone of the branch or tag `rev` first. */
  shallow?: boolean;
  signal?: AbortSignal;
}

/** Clones `url` into `dest` (which must not exist) and checks out `rev` when given. */
export async function cloneRepo(url: string, dest: string, opts: CloneOptions = {}): Promise<void> {
  const g = git(process.cwd(), opts.signal);
  if (opts.shallow && opts.rev) {
    try {
      await g.clone(url, dest, ["--quiet", "--depth", "1", "--branch", opts.rev]);
      return;
    } catch {
      // a commit hash rather than a branch or tag, or a server that refuses shallow clones
      await rm(dest, { recursive: true, force: true });
    }
  }
  await g.clone(url, dest, ["--quiet"]);
  if (opts.rev) await git(dest, opts.signal).checkout(["--quiet", opts.rev, "--"]);
}

/** Commits everything in `dir` (new files too) when anything changed; returns HEAD. */
export async function commitAll(dir: string, message: string): Promise<string> {
  const g = git(dir);
  await g.add(["-A"]);
  if (!(await g.status()).isClean()) await g.commit(message, undefined, { "--no-verify": null });
  return headCommit(dir);
}

export async function headCommit(dir: string): Promise<string> {
  return (await git(dir).revparse(["HEAD"])).trim();
}

/** The hash of HEAD's tree: equal for equal content, whatever the history. */
export async function treeHash(dir: string): Promise<string> {
  return (await git(dir).revparse(["HEAD^{tree}"])).trim();
}

export async function initRepo(dir: string, message: string): Promise<string> {
  await git(dir).init(["--quiet", "--initial-branch=main"]);
  return commitAll(dir, message);
}

/** The diff of the workspace against the commit it started from. */
export async function diffSince(dir: string, base: string, stat = false): Promise<string> {
  // A textconv or external diff driver would run a program the workspace's config names.
  return git(dir).diff(["--no-ext-diff", "--no-textconv", ...(stat ? ["--stat"] : []), base, "HEAD"]);
}
