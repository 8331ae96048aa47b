// What the modify stage sends the model each round: the task, the current state of the
// files that matter (changed ones first, then the first files and those it asked to read),
// and the latest feedback only. Nothing of earlier rounds is resent, so a request stays
// about the same size in round 6 as in round 1.
import path from "node:path";
import { readWorkspaceFile } from "../../guard/edits.js";
import { runGit } from "../../sources/git.js";
import { fence, fenceJson, renderPrompt } from "../../llm/prompts.js";

const TREE_ENTRIES = 400;
const FILE_BYTES = 48 * 1024;
const FILES_BYTES = 96 * 1024;
/** Files kept in view besides the changed ones (the oldest read drops out first). */
const MAX_VIEWED = 12;

/** The parts of the task that stay the same every round. */
export interface ModifyTask {
  instructions: string;
  behaviour: string;
  acceptance: unknown;
  package: string;
  bin: string;
  /** The crate as it came: build, tests and acceptance before any change. */
  upstream: unknown;
}

export class ModifyPrompt {
  private viewed: string[] = [];

  constructor(
    private readonly workspace: string,
    private readonly startHead: string,
    private readonly task: ModifyTask,
    firstFiles: string[],
  ) {
    this.viewed = [...firstFiles];
  }

  /** Keeps files the model asked to read in view for the rounds to come. */
  read(files: string[]): void {
    for (const f of files) {
      this.viewed = this.viewed.filter((v) => v !== f);
      this.viewed.push(f);
    }
    if (this.viewed.length > MAX_VIEWED) this.viewed = this.viewed.slice(-MAX_VIEWED);
  }

  /** The one user message of a request: the task, the files as they are now, the latest feedback. */
  async render(round: number, maxRounds: number, feedback: string): Promise<string> {
    const tree = await fileTree(this.workspace);
    const changed = await changedFiles(this.workspace, this.startHead);
    const shown = [...changed, ...this.viewed.filter((f) => !changed.includes(f))];
    const t = this.task;
    return renderPrompt("edit", "user", {
      instructions: fence("instructions", t.instructions),
      behaviour: fence("planned behaviour", t.behaviour),
      acceptance: fenceJson("acceptance tests", t.acceptance),
      package: JSON.stringify(t.package),
      bin: JSON.stringify(t.bin),
      tree: fence("file tree", tree.slice(0, TREE_ENTRIES).join("\n") + (tree.length > TREE_ENTRIES ? `\n[... ${tree.length - TREE_ENTRIES} more]` : "")),
      changed: changed.length ? changed.map((f) => `- ${f}`).join("\n") : "(none yet)",
      files: await filesBlock(this.workspace, shown, FILES_BYTES),
      status: fenceJson("status before any change", t.upstream),
      round: round,
      max_rounds: maxRounds,
      feedback: feedback || "This is the first round: nothing has been changed yet.",
    });
  }
}

async function fileTree(workspace: string): Promise<string[]> {
  const out = await runGit(workspace, ["ls-files", "--cached", "--others", "--exclude-standard"]);
  return out.split("\n").filter(Boolean);
}

/** Files that differ from the upstream start, committed or not (new and deleted ones too). */
export async function changedFiles(workspace: string, from: string): Promise<string[]> {
  
  const tracked = await runGit(workspace, ["diff", "--name-only", "--no-ext-diff", from, "--"]);
  const untracked = await runGit(workspace, ["ls-files", "--others", "--exclude-standard"]);
  const all = [...tracked.split("\n"), ...untracked.split("\n")].filter((f) => f && path.posix.basename(f) !== "Cargo.lock");
  return [...new Set(all)];
}

/** Files as fenced data, each within its own and the total byte limit. */
export async function filesBlock(workspace: string, paths: string[], totalBytes: number): Promise<string> {
  const parts: string[] = [];
  let used = 0;
  for (const rel of paths) {
    if (used >= totalBytes) {
      parts.push(`${rel}: not shown (the files above fill this message's share: ask to read it again when you need it)`);
      continue;
    }
    const r = await readWorkspaceFile(workspace, rel, Math.min(FILE_BYTES, totalBytes - used));
    if ("problem" in r) parts.push(`${rel}: ${r.problem}`);
    else {
      used += r.text.length;
      parts.push(fence(`file ${rel}`, r.text, rel.endsWith(".rs") ? "rust" : rel.endsWith(".toml") ? "toml" : "text"));
    }
  }
  return parts.join("\n\n") || "(none)";
}
