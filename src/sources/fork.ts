// The tool's fork on GitHub: pushing its branch there, and deleting the fork on dispose
// when this server created it and no other crafted tool still has its branch on it.
import type { Config } from "../config.js";
import type { Craft, SourceInfo } from "../model/craft.js";
import { GithubError, branchesWithPrefix, deleteRepo, parseGithubRepo, pushWithToken } from "./github.js";

/** What pushBranch needs of a craft in progress (a StageContext satisfies it). */
export interface PushContext {
  config: Config;
  paths: { workspace: string };
  signal: AbortSignal;
  log(line: string): void;
  progress(message: string): void;
}

export function workBranch(tool: string): string {
  return `flakebot/${tool}`;
}

export interface PushOutcome {
  pushed: boolean;
  branch?: string;
  message: string;
}

/** Pushes the workspace's HEAD to flakebot/<tool> on the fork, when the craft has one. */
export async function pushBranch(ctx: PushContext, craft: Craft): Promise<PushOutcome> {
  const source = craft.source;
  if (!source?.fork) return { pushed: false, message: "no fork: nothing pushed" };
  if (source.origin !== "git") return { pushed: false, message: `the workspace came from the published archive, not from ${source.fork}: nothing pushed` };
  const token = ctx.config.github.token;
  if (!token) return { pushed: false, message: `GITHUB_TOKEN is not set: ${workBranch(craft.name)} was not pushed to ${source.fork}` };
  const branch = workBranch(craft.name);
  ctx.progress(`pushing ${branch} to ${source.fork}`);
  await pushWithToken({ cwd: ctx.paths.workspace, url: source.fork, refspec: `HEAD:refs/heads/${branch}`, token, signal: ctx.signal, force: true });
  ctx.log(`acquire: pushed ${branch} to ${source.fork}`);
  return { pushed: true, branch, message: `pushed ${branch} to ${source.fork}` };
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
