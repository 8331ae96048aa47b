// The GitHub fork of a craft's upstream: made (or found) at acquire, deleted at dispose
// only when this server made it and no other crafted tool still has its branch on it.
import type { Config } from "../../config.js";
import type { SourceInfo } from "../../model/craft.js";
import type { StageContext } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { ForkNotReadyError, GithubError, branchesWithPrefix, deleteRepo, ensureFork, parseGithubRepo, type Fork } from "../../sources/github.js";

export function workBranch(tool: string): string {
  return `flakebot/${tool}`;
}

export interface ForkOptions {
  forkReadyTimeoutMs?: number;
  forkPollMs?: number;
}

export interface ForkOutcome {
  fork?: Fork;
  /** Why there is no fork, or that the fork was the account's own already. */
  note?: string;
}

/** The fork to push the tool's branch to, when GITHUB_TOKEN is set and the upstream is on GitHub. */
export async function forkIfPossible(ctx: StageContext, repoUrl: string, opts: ForkOptions = {}): Promise<ForkOutcome> {
  const upstream = parseGithubRepo(repoUrl);
  if (!ctx.config.github.token || !upstream) return {};
  ctx.progress(`forking ${upstream.owner}/${upstream.repo} on GitHub`);
  try {
    const fork = await ensureFork(ctx.config, upstream, {
      signal: ctx.signal,
      readyTimeoutMs: opts.forkReadyTimeoutMs,
      pollMs: opts.forkPollMs,
    });
    if (!fork) return { note: `the repository belongs to the GITHUB_TOKEN account: cloned it directly, nothing will be pushed` };
    ctx.log(`acquire: ${fork.created ? "created" : "reusing"} the fork ${fork.url}`);
    return fork.created ? { fork } : { fork, note: `used the fork ${fork.url} that the GITHUB_TOKEN account already had; dispose keeps it` };
  } catch (err) {
    if (err instanceof ForkNotReadyError) throw new CraftError("acquire", err.message);
    if (ctx.signal.aborted) throw err;
    return { note: `could not fork on GitHub (${(err as Error).message}): cloned the upstream, nothing will be pushed` };
  }
}

/** The source facts a fork outcome adds to a craft's record. */
export function forkFacts(outcome: ForkOutcome): Pick<SourceInfo, "fork" | "fork_created" | "fork_note"> {
  return {
    ...(outcome.fork ? { fork: outcome.fork.url, fork_created: outcome.fork.created } : {}),
    ...(outcome.note ? { fork_note: outcome.note } : {}),
  };
}

export interface DeleteForkOutcome {
  deleted: boolean;
  message: string;
}

/** Deletes the fork on dispose of `tool`, only when this server created it and no other tool's branch is on it. */
export async function deleteFork(config: Config, source: SourceInfo | undefined, tool: string, signal?: AbortSignal): Promise<DeleteForkOutcome> {
  if (!source?.fork) return { deleted: false, message: "no fork" };
  if (!source.fork_created) return { deleted: false, message: `kept the fork ${source.fork}: it existed before this server used it` };
  const repo = parseGithubRepo(source.fork);
  if (!repo) return { deleted: false, message: `kept ${source.fork}: not a GitHub repository URL` };
  if (!config.github.token) return { deleted: false, message: `GITHUB_TOKEN is not set: delete the fork ${source.fork} on GitHub yourself` };
  try {
    const others = (await branchesWithPrefix(config, repo, workBranch(""), signal)).filter((b) => b !== workBranch(tool));
    if (others.length > 0) {
      return { deleted: false, message: `kept the fork ${source.fork}: other crafted tools still have their branches on it (${others.slice(0, 5).join(", ")})` };
    }
  } catch (err) {
    if (!(err instanceof GithubError && err.status === 404)) throw err;
    return { deleted: false, message: `the fork ${source.fork} was already gone` };
  }
  const outcome = await deleteRepo(config, repo, signal);
  return outcome === "deleted"
    ? { deleted: true, message: `deleted the fork ${source.fork}` }
    : { deleted: false, message: `the fork ${source.fork} was already gone` };
}
