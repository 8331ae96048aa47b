// git, on the one process runner: argv arrays, the git policy (no hooks, no fsmonitor, an
// identity; policy.ts), the operator's git environment without secrets, a timeout for a
// stuck remote, the craft's AbortSignal, and capped output. Options from requests are
// never passed as options (a revision is checked not to start with "-").
import { rm } from "node:fs/promises";
import { runProcess, type RunResult } from "../exec/process.js";
import { gitEnv } from "../exec/env.js";

export { gitEnv } from "../exec/env.js";

export interface GitOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Variables added to git's environment (GIT_ASKPASS for a push). */
  env?: Record<string, string>;
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = "GitError";
  }
}

const DEFAULT_TIMEOUT_MS = 300_000;
const OUTPUT_CAP = 16 * 1024 * 1024;

/** Runs `git args...` in `dir` and returns its stdout; a non-zero exit throws a GitError. */
export async function runGit(dir: string, args: string[], opts: GitOptions = {}): Promise<string> {
  const r = await runProcess(["git", ...args], {
    kind: "git",
    cwd: dir,
    env: { ...gitEnv(), ...opts.env },
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxOutputBytes: OUTPUT_CAP,
  });
  if (r.exitCode === 0) return r.stdout;
  const why = r.aborted ? "was cancelled" : r.timedOut ? "timed out" : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
  const tail = (r.stderr || r.stdout).trim().split("\n").slice(-10).join("\n");
  throw new GitError(`git ${args[0]} ${why}${tail ? `: ${tail}` : ""}`, r);
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
  const o = { signal: opts.signal };
  if (opts.shallow && opts.rev) {
    try {
      await runGit(process.cwd(), ["clone", "--quiet", "--depth", "1", "--branch", opts.rev, "--", url, dest], o);
      return;
    } catch {
      // a commit hash rather than a branch or tag, or a server that refuses shallow clones
      await rm(dest, { recursive: true, force: true });
    }
  }
  await runGit(process.cwd(), ["clone", "--quiet", "--", url, dest], o);
  if (opts.rev) await runGit(dest, ["checkout", "--quiet", opts.rev, "--"], o);
}

/** Whether the work tree has changes (tracked or untracked) that are not committed. */
export async function isDirty(dir: string, signal?: AbortSignal): Promise<boolean> {
  return (await runGit(dir, ["status", "--porcelain"], { signal })).trim() !== "";
}

/** Commits everything in `dir` (new files too) when anything changed; returns HEAD. */
export async function commitAll(dir: string, message: string): Promise<string> {
  await runGit(dir, ["add", "-A"]);
  if (await isDirty(dir)) await runGit(dir, ["commit", "--quiet", "--no-verify", "-m", message]);
  return headCommit(dir);
}

export async function headCommit(dir: string): Promise<string> {
  return (await runGit(dir, ["rev-parse", "HEAD"])).trim();
}

/** The hash of HEAD's tree: equal for equal content, whatever the history. */
export async function treeHash(dir: string): Promise<string> {
  return (await runGit(dir, ["rev-parse", "HEAD^{tree}"])).trim();
}

export async function initRepo(dir: string, message: string): Promise<string> {
  await runGit(dir, ["init", "--quiet", "--initial-branch=main"]);
  return commitAll(dir, message);
}

/** The diff of the workspace against the commit it started from (never an external diff program). */
export async function diffSince(dir: string, base: string, stat = false): Promise<string> {
  return runGit(dir, ["diff", "--no-ext-diff", "--no-textconv", ...(stat ? ["--stat"] : []), base, "HEAD", "--"]);
}
