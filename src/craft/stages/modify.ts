// modify: the LLM changes the crate until it does what the instructions ask. Each round the
// LLM sees the results of the last one and answers with edits; Flakebot applies them inside
// the workspace only, refuses any change that deletes, ignores or weakens a test, builds,
// runs cargo test and the acceptance tests, and commits every round that builds and keeps
// all tests passing. The change is done when the acceptance tests pass and it added
// passing tests of its own; rounds and tokens are bounded.
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import type { Craft, TargetInfo } from "../../model/craft.js";
import type { ModifyReport, Plan } from "../../model/plan.js";
import { applyEdits, EditRejected, EditSchema, readWorkspaceFile } from "../../guard/edits.js";
import { compareTests, passCountProblem, scanTests, type TestInventory } from "../../guard/tests.js";
import { acceptanceOf, acceptanceReport, buildAndTest, buildReport, testReport, type CheckSetup } from "../checks.js";
import { cargoMetadata, hasLockfile, selectTarget, type CargoRun } from "../../backends/cargo/cargo.js";
import { commitAll, diffSince, headCommit, runGit } from "../../sources/git.js";
import { askJson, LlmMeter, StructuredAnswerError } from "../../llm/structured.js";
import { fence, fenceJson, renderPrompt } from "../../llm/prompts.js";
import type { ChatMessage } from "../../llm/provider.js";
import { LlmCallError } from "../../llm/chat.js";

export interface ModifyOptions {
  /** Rounds of edits that are applied and checked (default 6). */
  maxRounds?: number;
  /** Prompt plus completion tokens for the whole craft (default 600k). */
  tokenBudget?: number;
  /** Answers that only ask to read files (default 6 in all). */
  maxReads?: number;
}

export const ModifyAnswerSchema = z.object({
  summary: z.string().max(2000).default(""),
  read: z.array(z.string().max(400)).max(12).default([]),
  edits: z.array(EditSchema).max(60).default([]),
});
type ModifyAnswer = z.infer<typeof ModifyAnswerSchema>;

const TREE_ENTRIES = 400;
const FILE_BYTES = 24 * 1024;
const FIRST_FILES_BYTES = 48 * 1024;
const READ_BYTES = 120 * 1024;
const DIFF_BYTES = 256 * 1024;

/** Whether this craft runs the modify loop at all. */
export function wantsModify(request: Craft["request"], plan: Plan | undefined): boolean {
  if (request.modify === "never") return false;
  if (request.modify === "always") return true;
  return plan?.crate_alone_enough === false;
}

/** Keeps cargo's build output out of the commits (many crates have no .gitignore for it). */
async function excludeBuildOutput(workspace: string): Promise<void> {
  const rel = (await runGit(workspace, ["rev-parse", "--git-path", "info/exclude"])).trim();
  const file = path.resolve(workspace, rel);
  const current = await fs.readFile(file, "utf8").catch(() => "");
  if (!current.split("\n").includes("/target/")) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.appendFile(file, `${current && !current.endsWith("\n") ? "\n" : ""}/target/\n`);
  }
}

/** Throws away uncommitted changes: back to the last accepted round. */
async function restoreToHead(workspace: string): Promise<void> {
  await runGit(workspace, ["checkout", "--", "."]);
  await runGit(workspace, ["clean", "-fdq"]);
}

async function fileTree(workspace: string): Promise<string[]> {
  const out = await runGit(workspace, ["ls-files", "--cached", "--others", "--exclude-standard"]);
  return out.split("\n").filter(Boolean);
}

interface MetaTargetWithSrc {
  name: string;
  kind: string[];
  src_path?: string;
}

async function resolveTarget(ctx: StageContext, run: CargoRun): Promise<{ target: TargetInfo; mainFile?: string }> {
  const workspace = ctx.paths.workspace;
  const meta = await cargoMetadata(run);
  const target = selectTarget(meta, workspace, { package: ctx.request.package, bin: ctx.request.bin, features: ctx.request.features }, hasLockfile(workspace));
  const pkg = meta.packages.find((p) => p.name === target.package);
  const bin = (pkg?.targets as MetaTargetWithSrc[] | undefined)?.find((t) => t.name === target.bin && t.kind.includes("bin"));
  const mainFile = bin?.src_path ? path.relative(workspace, bin.src_path).split(path.sep).join("/") : undefined;
  return { target, mainFile };
}

/** Files as fenced data, each within its own and the total byte limit. */
async function filesBlock(workspace: string, paths: string[], totalBytes: number): Promise<string> {
  const parts: string[] = [];
  let used = 0;
  for (const rel of paths) {
    const r = await readWorkspaceFile(workspace, rel, Math.min(FILE_BYTES * 2, Math.max(0, totalBytes - used)));
    if ("problem" in r) parts.push(`${rel}: ${r.problem}`);
    else if (used >= totalBytes) parts.push(`${rel}: not shown (too much in one answer: ask for it again)`);
    else {
      used += r.text.length;
      parts.push(fence(`file ${rel}`, r.text, rel.endsWith(".rs") ? "rust" : rel.endsWith(".toml") ? "toml" : "text"));
    }
  }
  return parts.join("\n\n") || "(none)";
}

type Verdict = "rejected-edits" | "rejected-tests" | "build-failed" | "tests-failed" | "acceptance-failed" | "no-new-tests";

interface RoundResult {
  done: boolean;
  verdict?: Verdict;
  details?: string;
  /** One line for the log and the final error. */
  summary?: string;
}

/** Creates the modify stage with its limits (the default export uses the defaults). */
export function createModify(options: ModifyOptions = {}): StageFn {
  const maxRounds = options.maxRounds ?? 6;
  const tokenBudget = options.tokenBudget ?? 600_000;
  const maxReads = options.maxReads ?? 6;

  return async (ctx, craft) => {
    const plan = (craft as Craft & { plan?: Plan }).plan;
    if (!wantsModify(ctx.request, plan)) {
      ctx.log(`modify: skipped (${ctx.request.modify === "never" ? "modify is never" : "the plan says the crate alone is enough"})`);
      return {};
    }
    const llm = ctx.llm;
    if (!llm) {
      if (ctx.request.modify === "always") {
        throw new CraftError(
          "modify",
          'modify is "always" but no LLM is configured: set GROQ_API_KEY (or OPENAI_BASE_URL and FLAKEBOT_MODEL for an OpenAI-compatible server), use an MCP client that offers sampling, or craft with modify "auto" or "never"',
        );
      }
      ctx.log("modify: skipped (no LLM configured)");
      return {};
    }

    const workspace = ctx.paths.workspace;
    const run: CargoRun = {
      cwd: workspace,
      signal: ctx.signal,
      sandbox: ctx.sandboxed,
      onLine: (line) => {
        if (!line.startsWith("{")) ctx.log(line);
      },
    };
    await excludeBuildOutput(workspace);
    const resolved = await resolveTarget(ctx, run).catch((err: Error) => {
      throw new CraftError("modify", `cannot read the crate's targets: ${err.message}`);
    });
    const target = craft.target ?? resolved.target;
    const acceptance = craft.acceptance ?? plan?.acceptance ?? [];
    const setup: CheckSetup = { target, run, acceptance, scratch: ctx.paths.scratch, sandboxed: ctx.sandboxed ?? false };
    const startHead = await headCommit(workspace);
    const base = craft.source?.base ?? startHead;
    const meter = new LlmMeter(llm, craft.llm);

    // The crate as it came: what the LLM starts from, and the test counts it may not lower.
    ctx.progress("modify: building and testing the crate as it is");
    const before = await buildAndTest(setup);
    const beforeAcceptance = before.build.ok ? await acceptanceOf(setup, before.build) : undefined;
    const status = beforeAcceptance
      ? {
          build: "ok",
          cargo_test: { passed: before.tests!.passed, failed: before.tests!.failed, failing_tests: before.tests!.failures },
          acceptance: { passed: beforeAcceptance.passed, failed: beforeAcceptance.failed, failures: acceptanceReport(beforeAcceptance, acceptance) },
        }
      : { build: "failed", ...buildReport(before.build) };
    const testsOld = before.tests?.passed ?? 0;
    // Upstream tests that already failed (many need the network or files) may keep failing;
    // any other failure counts against the change.
    const knownFailures = new Set(before.tests?.failures ?? []);
    let acceptedPassed = testsOld;
    let acceptedFailed = before.tests?.failed ?? 0;
    let acceptedTests: TestInventory = await scanTests(workspace);

    const tree = await fileTree(workspace);
    const firstFiles = [path.posix.join(target.dir, "Cargo.toml"), ...(resolved.mainFile ? [resolved.mainFile] : [])];
    const system = renderPrompt("edit", "system");
    const messages: ChatMessage[] = [
      {
        role: "user",
        content: renderPrompt("edit", "user", {
          instructions: fence("instructions", ctx.request.instructions),
          behaviour: fence("planned behaviour", plan?.behaviour ?? ctx.request.instructions),
          acceptance: fenceJson("acceptance tests", acceptance),
          package: JSON.stringify(target.package),
          bin: JSON.stringify(target.bin),
          tree: fence(
            "file tree",
            tree.slice(0, TREE_ENTRIES).join("\n") + (tree.length > TREE_ENTRIES ? `\n[... ${tree.length - TREE_ENTRIES} more]` : ""),
          ),
          files: await filesBlock(workspace, firstFiles, FIRST_FILES_BYTES),
          status: fenceJson("status before any change", status),
        }),
      },
    ];

    const commits: string[] = [];
    let rounds = 0;
    let reads = 0;
    let last: RoundResult | undefined;
    let finalAcceptance = { passed: beforeAcceptance?.passed ?? 0, failed: beforeAcceptance?.failed ?? 0 };

    const checkRound = async (answer: ModifyAnswer): Promise<RoundResult> => {
      if (answer.edits.length) {
        try {
          await applyEdits(workspace, answer.edits);
        } catch (err) {
          if (!(err instanceof EditRejected)) throw err;
          return { done: false, verdict: "rejected-edits", details: fenceJson("problems", err.problems), summary: `edits refused: ${err.problems.join("; ")}` };
        }
      }
      const testsNow = await scanTests(workspace);
      const guard = compareTests(acceptedTests, testsNow);
      if (guard.length) {
        await restoreToHead(workspace);
        return { done: false, verdict: "rejected-tests", details: fenceJson("problems", guard), summary: guard.join("; ") };
      }
      const checked = await buildAndTest(setup);
      if (!checked.build.ok) {
        const report = buildReport(checked.build);
        return { done: false, verdict: "build-failed", details: fenceJson("cargo build", report), summary: `cargo build failed: ${firstLine(report)}` };
      }
      const tests = checked.tests!;
      const newFailures = tests.failures.filter((f) => !knownFailures.has(f));
      if (!tests.ok && (newFailures.length > 0 || tests.failures.length === 0)) {
        return {
          done: false,
          verdict: "tests-failed",
          details: fenceJson("cargo test", testReport(tests, knownFailures)),
          summary: `cargo test failed${newFailures.length ? `: ${newFailures.join(", ")}` : ""}`,
        };
      }
      const lowered = passCountProblem(acceptedPassed, tests.passed);
      if (lowered) {
        await restoreToHead(workspace);
        return { done: false, verdict: "rejected-tests", details: fenceJson("problems", [lowered]), summary: lowered };
      }
      const headBefore = await headCommit(workspace);
      const head = await commitAll(workspace, `flakebot: round ${rounds}: ${answer.summary || "changes by the LLM"}`.slice(0, 200));
      if (head !== headBefore) commits.push(head);
      acceptedTests = testsNow;
      acceptedPassed = tests.passed;
      acceptedFailed = tests.failed;
      const acc = await acceptanceOf(setup, checked.build);
      finalAcceptance = { passed: acc.passed, failed: acc.failed };
      if (acc.failed) {
        const failing = acc.results.filter((r) => !r.ok).map((r) => r.name);
        return {
          done: false,
          verdict: "acceptance-failed",
          details: fenceJson("failing acceptance tests", acceptanceReport(acc, acceptance)),
          summary: `acceptance tests failed: ${failing.join(", ")}`,
        };
      }
      if ((await changedSince(workspace, startHead)).length && tests.passed <= testsOld) {
        const why = `${tests.passed} tests pass now and ${testsOld} passed before the change`;
        return { done: false, verdict: "no-new-tests", details: why, summary: `the change adds no passing tests (${why})` };
      }
      return { done: true };
    };

    while (rounds < maxRounds) {
      if (meter.totalTokens >= tokenBudget) {
        throw new CraftError(
          "modify",
          `the LLM token budget (${tokenBudget}) ran out after ${rounds} round(s)${last?.summary ? `; the last round failed: ${last.summary}` : ""}. Try clearer instructions, another crate, or modify "never"`,
        );
      }
      let answer: ModifyAnswer;
      let text: string;
      try {
        ({ value: answer, text } = await askJson(llm, { system, messages, schema: ModifyAnswerSchema, meter, maxTokens: 16_384, signal: ctx.signal }));
      } catch (err) {
        if (err instanceof StructuredAnswerError) throw new CraftError("modify", `${err.message}. Try another model (FLAKEBOT_MODEL) or retry`);
        if (err instanceof LlmCallError) throw new CraftError("modify", `${err.message} (after ${rounds} round(s))`);
        throw err;
      }
      messages.push({ role: "assistant", content: text });

      if (answer.read.length && !answer.edits.length) {
        if (reads < maxReads) {
          reads++;
          ctx.progress(`modify: the LLM reads ${answer.read.join(", ")}`);
          messages.push({ role: "user", content: renderPrompt("repair", "files", { files: await filesBlock(workspace, answer.read, READ_BYTES) }) });
        } else {
          messages.push({ role: "user", content: renderPrompt("repair", "read-limit") });
        }
        continue;
      }

      rounds++;
      ctx.progress(`modify: round ${rounds} of ${maxRounds}: ${answer.edits.length} edit(s)${answer.summary ? `: ${answer.summary}` : ""}`);
      last = await checkRound(answer);
      if (last.done) break;
      ctx.log(`modify: round ${rounds}: ${last.summary}`);
      messages.push({
        role: "user",
        content: renderPrompt("repair", last.verdict!, { round: rounds, max_rounds: maxRounds, details: last.details ?? "" }),
      });
    }

    if (!last?.done) {
      throw new CraftError(
        "modify",
        `no change passed its checks within ${maxRounds} round(s)${last?.summary ? `; the last round failed: ${last.summary}` : ""}. Try clearer instructions, another crate ("crate"), or modify "never"`,
      );
    }

    const testsNew = acceptedPassed;
    let diff = await diffSince(workspace, base);
    if (diff.length > DIFF_BYTES) diff = `${diff.slice(0, DIFF_BYTES)}\n[... diff cut at ${DIFF_BYTES} bytes]`;
    const report: ModifyReport = { rounds, commits, tests_old: testsOld, tests_new: testsNew, changed_files: await changedSince(workspace, startHead) };
    ctx.log(`modify: done in ${rounds} round(s): tests ${testsOld} -> ${testsNew}, acceptance ${finalAcceptance.passed}/${acceptance.length}`);
    return {
      target,
      tests: { passed: testsNew, failed: acceptedFailed, acceptance_passed: finalAcceptance.passed, acceptance_failed: finalAcceptance.failed },
      llm: meter.usage(rounds),
      diff_stat: diff,
      modify: report,
    } as Partial<Craft>;
  };
}

/** Files the commits since `from` changed, besides the lock file cargo may have written. */
async function changedSince(workspace: string, from: string): Promise<string[]> {
  const out = await runGit(workspace, ["diff", "--name-only", "--no-ext-diff", from, "HEAD", "--"]);
  return out.split("\n").filter((f) => f && f !== "Cargo.lock" && !f.endsWith("/Cargo.lock"));
}

function firstLine(report: object): string {
  const r = report as { errors?: { message: string }[]; output?: string };
  return (r.errors?.[0]?.message ?? r.output ?? "").split("\n")[0].slice(0, 200);
}

export const modify: StageFn = createModify();
