// GitHub: forking an upstream repository, waiting until the fork answers, deleting a fork
// this server created, and pushing a branch to it with the token kept out of every argv,
// log and environment but that one git push's.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Octokit } from "@octokit/rest";
import type { Config } from "../config.js";
import { runGit } from "./git.js";
import { log } from "../log.js";
import { USER_AGENT } from "./cratesio.js";

export interface GithubRepo {
  owner: string;
  repo: string;
}

export interface Fork extends GithubRepo {
  /** The fork's web URL, https://github.com/<owner>/<repo> (also a git URL). */
  url: string;
  cloneUrl: string;
  /** False when the account already had this fork. */
  created: boolean;
}

export class GithubError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "GithubError";
  }
}

/** A fork that GitHub accepted but that did not answer in time. */
export class ForkNotReadyError extends GithubError {}

const GITHUB_URL = /^(?:https?:\/\/(?:www\.)?github\.com\/|git@github\.com:|ssh:\/\/git@github\.com\/)([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+?)(?:\.git)?(?:\/.*)?$/;

/** owner/repo of a github.com URL (https, ssh, with .git or a /tree/... suffix); undefined otherwise. */
export function parseGithubRepo(url: string): GithubRepo | undefined {
  const m = GITHUB_URL.exec(url.trim());
  if (!m || m[2] === "." || m[2] === "..") return undefined;
  return { owner: m[1], repo: m[2] };
}

export function githubWebUrl(r: GithubRepo): string {
  return `https://github.com/${r.owner}/${r.repo}`;
}

// Loaded on first use: most crafts never fork, and every server start would pay for it.
async function octokit(config: Config, signal?: AbortSignal): Promise<Octokit> {
  if (!config.github.token) throw new GithubError("GITHUB_TOKEN is not set");
  const { Octokit } = await import("@octokit/rest");
  return new Octokit({
    auth: config.github.token,
    baseUrl: config.github.apiUrl,
    userAgent: USER_AGENT,
    request: { signal },
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(`github: ${m}`), error: (m: string) => log.error(`github: ${m}`) },
  });
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

function explain(err: unknown, what: string): GithubError {
  const status = statusOf(err);
  const detail = (err as Error).message ?? String(err);
  const hint =
    status === 401
      ? "GITHUB_TOKEN was refused: check that it is valid"
      : status === 403
        ? "GITHUB_TOKEN may lack the permission (public_repo / repo, or fine-grained 'Administration' for forks and deletes)"
        : status === 404
          ? "no such repository, or the token cannot see it"
          : "GitHub may be unreachable";
  return new GithubError(`${what} failed${status ? ` (${status})` : ""}: ${detail}; ${hint}`, status);
}

export interface ForkOptions {
  signal?: AbortSignal;
  /** How long to wait for a new fork to answer. */
  readyTimeoutMs?: number;
  pollMs?: number;
}

/**
 * The authenticated account's fork of `upstream`: the existing one when the account
 * already has it, else a new one, waited for (bounded) until GitHub serves it.
 * Returns undefined when the upstream belongs to the account itself (nothing to fork).
 */
export async function ensureFork(config: Config, upstream: GithubRepo, opts: ForkOptions = {}): Promise<Fork | undefined> {
  const gh = await octokit(config, opts.signal);
  let me: string;
  // GitHub's clock, just before the fork request: a fork created before it was not made by us.
  let askedAt: number;
  try {
    const { data, headers } = await gh.rest.users.getAuthenticated();
    me = data.login;
    askedAt = Date.parse(String(headers.date ?? "")) || Date.now();
  } catch (err) {
    throw explain(err, "reading the GitHub account of GITHUB_TOKEN");
  }
  if (me.toLowerCase() === upstream.owner.toLowerCase()) return undefined;
  const upstreamName = `${upstream.owner}/${upstream.repo}`.toLowerCase();
  try {
    const { data } = await gh.rest.repos.get({ owner: me, repo: upstream.repo });
    if (data.fork && data.parent?.full_name.toLowerCase() === upstreamName) {
      return { owner: data.owner.login, repo: data.name, url: data.html_url, cloneUrl: data.clone_url, created: false };
    }
  } catch (err) {
    if (statusOf(err) !== 404) throw explain(err, `looking for an existing fork ${me}/${upstream.repo}`);
  }
  let fork: Fork;
  try {
    const { data } = await gh.rest.repos.createFork({ owner: upstream.owner, repo: upstream.repo });
    // GitHub answers a fork request for an upstream the account already forked (under any
    // name) with that existing fork. It is the user's: dispose must keep it. When unsure, keep.
    const existing = data.name.toLowerCase() !== upstream.repo.toLowerCase() || !(Date.parse(data.created_at) >= askedAt - 1000);
    fork = { owner: data.owner.login, repo: data.name, url: data.html_url, cloneUrl: data.clone_url, created: !existing };
    if (existing) return fork;
  } catch (err) {
    throw explain(err, `forking ${upstream.owner}/${upstream.repo}`);
  }
  await waitForRepo(gh, fork, opts);
  return fork;
}

/** GitHub creates forks asynchronously: poll until the fork answers, for a bounded time. */
async function waitForRepo(gh: Octokit, fork: Fork, opts: ForkOptions): Promise<void> {
  const timeout = opts.readyTimeoutMs ?? 120_000;
  const poll = opts.pollMs ?? 2_000;
  const deadline = Date.now() + timeout;
  let last = "";
  for (;;) {
    try {
      await gh.rest.repos.get({ owner: fork.owner, repo: fork.repo });
      return;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      last = statusOf(err) ? `status ${statusOf(err)}` : (err as Error).message;
    }
    if (Date.now() + poll > deadline) {
      throw new ForkNotReadyError(
        `the fork ${fork.url} was created but did not become ready within ${Math.round(timeout / 1000)} s (last answer: ${last}); ` +
          `try again in a minute (the fork will be reused), or unset GITHUB_TOKEN to clone the upstream without forking`,
      );
    }
    await sleep(poll, undefined, { signal: opts.signal });
  }
}

/** The fork's branches whose names start with `prefix` (flakebot/ branches of crafted tools). */
export async function branchesWithPrefix(config: Config, repo: GithubRepo, prefix: string, signal?: AbortSignal): Promise<string[]> {
  const gh = await octokit(config, signal);
  try {
    const branches = await gh.paginate(gh.rest.repos.listBranches, { owner: repo.owner, repo: repo.repo, per_page: 100 });
    return branches.map((b) => b.name).filter((n) => n.startsWith(prefix));
  } catch (err) {
    throw explain(err, `listing the branches of ${repo.owner}/${repo.repo}`);
  }
}

/** Deletes a repository; "gone" when it did not exist any more. */
export async function deleteRepo(config: Config, repo: GithubRepo, signal?: AbortSignal): Promise<"deleted" | "gone"> {
  try {
    await (await octokit(config, signal)).rest.repos.delete({ owner: repo.owner, repo: repo.repo });
    return "deleted";
  } catch (err) {
    if (statusOf(err) === 404) return "gone";
    throw explain(err, `deleting ${repo.owner}/${repo.repo}`);
  }
}

// git asks GIT_ASKPASS for the user name and the password of an https remote. This helper
// answers from a variable that only the push's own environment carries, so the token is
// never in an argv (visible in ps), a log line, a config file or any other process's env.
// It runs on node (no shell); GitHub takes any user name with a token as the password.
// It answers git on its own file descriptor 1 (this is the helper's output, not the server's).
const ASKPASS_SOURCE = `import { writeSync } from "node:fs";
const prompt = process.argv[2] || "";
writeSync(1, (/^username/i.test(prompt) ? "x-access-token" : (process.env.FLAKEBOT_PUSH_CREDENTIAL || "")) + "\\n");
`;

export async function writeAskpass(dir: string): Promise<string> {
  const file = path.join(dir, "askpass.mjs");
  await writeFile(file, `#!${process.execPath}\n${ASKPASS_SOURCE}`, { mode: 0o700 });
  await chmod(file, 0o700);
  return file;
}

export interface PushOptions {
  cwd: string;
  url: string;
  /** e.g. HEAD:refs/heads/flakebot/tool */
  refspec: string;
  token: string;
  signal?: AbortSignal;
  force?: boolean;
}

/**
 * git push with the token handed over by GIT_ASKPASS, on the one process runner.
 * `credential.helper=` empties the helper list so that no helper the operator configured
 * stores the token on disk after the push succeeds.
 */
export async function pushWithToken(opts: PushOptions): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "flakebot-askpass-"));
  try {
    const askpass = await writeAskpass(dir);
    const args = ["-c", "credential.helper=", "push", "--quiet", ...(opts.force ? ["--force"] : []), opts.url, opts.refspec];
    await runGit(opts.cwd, args, { signal: opts.signal, env: { GIT_ASKPASS: askpass, FLAKEBOT_PUSH_CREDENTIAL: opts.token } });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const why = String((err as Error).message ?? err).trim().split("\n").slice(-5).join("\n");
    throw new GithubError(`git push to ${opts.url} failed: ${why.split(opts.token).join("[redacted]")}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
