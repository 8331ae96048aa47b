// The GitHub fork of a craft's upstream, made (or found) at acquire; sources/fork.ts pushes
// the tool's branch there and deletes the fork on dispose.
import type { SourceInfo } from "../../model/craft.js";
import type { StageContext } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { ForkNotReadyError, ensureFork, parseGithubRepo, type Fork } from "../../sources/github.js";

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
