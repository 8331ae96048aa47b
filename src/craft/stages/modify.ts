// modify: the LLM changes the crate until it does what the instructions ask, behind the
// change gate. Before any change the crate is built, its tests run (the baseline: every
// test by name, per target) and the acceptance tests run against the upstream binary.
// Each round the model sees the task, the files as they are now and the latest feedback;
// Flakebot applies its edits inside the workspace only, refuses a round that touches
// upstream test code (unless allow_test_changes names the test) or after which an upstream
// test that passed no longer runs and passes, builds, runs the acceptance tests, and
// commits every round that keeps the gate. Bounded in rounds, tokens and time.
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { inBuildSlot, type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import type { Craft, TargetInfo, TestBaseline } from "../../model/craft.js";
import type { ModifyReport, Plan } from "../../model/plan.js";
import { applyEdits, EditRejected, EditSchema } from "../../guard/edits.js";
import { scanTests, testCodeChanges, testCodeRefusal } from "../../guard/tests.js";
import { baselineOf, failingProblem, judgeRun, knownFailures, missingProblem, testsToFix } from "../../guard/test-gate.js";
import { acceptanceOf, acceptanceReport, buildAndTest, buildReport, testReport, type CheckSetup } from "../checks.js";
import { craftCargoRun } from "../cargo-run.js";
import { cargoMetadata, hasLockfile, selectTarget, type CargoRun } from "../../backends/cargo/cargo.js";
import { commitAll, diffSince, headCommit, runGit } from "../../sources/git.js";
import { askJson, LlmMeter, StructuredAnswerError } from "../../llm/structured.js";
import { fenceJson, renderPrompt } from "../../llm/prompts.js";
import { LlmCallError } from "../../llm/chat.js";
import { ModifyPrompt } from "./modify-prompt.js";

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

const DIFF_BYTES = 256 * 1024;
/** How often describe_tool's "waiting for the model" line is brought up to date. */
const WAIT_TICK_MS = 10_000;

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

type Verdict = "rejected-edits" | "rejected-tests" | "build-failed" | "tests-failed" | "unfixed" | "acceptance-failed" | "no-new-tests";

interface RoundResult {
  done: boolean;
  verdict?: Verdict;
  details?: string;
  /** One line for the log and the final error. */
  summary?: string;
}

/** The time the modify stage has left (FLAKEBOT_MODIFY_BUDGET). */
class Budget {
  private readonly deadline: number;
  constructor(readonly ms: number) {
    this.deadline = Date.now() + ms;
  }
  get left(): number {
    return this.deadline - Date.now();
  }
}

/** Waits for `task`, keeping the craft's message on what it waits for and for how long. */
async function waitingForModel<T>(ctx: StageContext, round: number, task: Promise<T>): Promise<T> {
  const started = Date.now();
  const show = () => ctx.progress(`modify: waiting for the model, round ${round}, ${Math.round((Date.now() - started) / 1000)} s`);
  show();
  const timer = setInterval(show, WAIT_TICK_MS);
  try {
    return await task;
  } finally {
    clearInterval(timer);
  }
}

/** Creates the modify stage with its limits (the default export uses the defaults). */
export function createModify(options: ModifyOptions = {}): StageFn {
  const maxRounds = options.maxRounds ?? 6;
  const tokenBudget = options.tokenBudget ?? 600_000;
  const maxReads = options.maxReads ?? 6;

  return async (ctx, craft) => {
    const plan = craft.plan;
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

    const budget = new Budget(ctx.config.modifyBudgetMs);
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
    // The loop's builds use the backend's toolchain (the flake's, with Nix) and the shared compiler cache.
    const checkRun = await craftCargoRun(ctx, target, run.onLine!).catch((err: Error) => {
      throw new CraftError("modify", `cannot get the ${ctx.backend?.name ?? "build"} toolchain for the changes: ${err.message}; or set FLAKEBOT_BACKEND=cargo`);
    });
    const setup: CheckSetup = { target, run: checkRun, acceptance, scratch: ctx.paths.scratch, sandboxed: ctx.sandboxed ?? false };
    const startHead = await headCommit(workspace);
    const base = craft.source?.base ?? startHead;
    const meter = new LlmMeter(llm, craft.llm);
    const allow = ctx.request.allow_test_changes ?? [];
    let lastFailure: string | undefined;
    const outOfTime = (rounds: number) =>
      new CraftError(
        "modify",
        `the modify budget (${Math.round(budget.ms / 1000)} s, FLAKEBOT_MODIFY_BUDGET) ran out after ${rounds} round(s)${lastFailure ? `; the last round failed: ${lastFailure}` : ""}. Raise FLAKEBOT_MODIFY_BUDGET, try clearer instructions, or modify "never"`,
      );
    const checks = async (rounds: number) => {
      if (budget.left <= 0) throw outOfTime(rounds);
      const outcome = await inBuildSlot(ctx, () => {
        run.timeoutMs = Math.max(1, budget.left);
        return buildAndTest(setup);
      });
      if (budget.left <= 0) throw outOfTime(rounds);
      return outcome;
    };

    // The crate as it came: the baseline every round is held to, and the proof to make.
    ctx.progress("modify: building and testing the crate as it is");
    const before = await checks(0);
    const beforeAcceptance = before.build.ok ? await acceptanceOf(setup, before.build) : undefined;
    const baselineResults = before.tests ? baselineOf(before.tests.run) : {};
    const baseline: TestBaseline = { results: baselineResults, to_fix: testsToFix(baselineResults, ctx.request.instructions) };
    setup.baseline = baselineResults;
    const known = knownFailures(baselineResults);
    const upstreamCode = await scanTests(workspace);
    const acceptanceUpstream = { passed: beforeAcceptance?.passed ?? 0, failed: beforeAcceptance?.failed ?? acceptance.length };
    const testsOld = before.tests?.passed ?? 0;
    ctx.log(
      `modify: before any change: ${before.build.ok ? `${testsOld} test(s) pass, ${known.length} fail (known failures${known.length ? `: ${known.join(", ")}` : ""})` : "the crate does not build"}; acceptance ${acceptanceUpstream.passed}/${acceptance.length} on the upstream binary`,
    );
    const status = beforeAcceptance
      ? {
          build: "ok",
          cargo_test: { passed: before.tests!.passed, failed: before.tests!.failed, failing_tests: known, ...(baseline.to_fix.length ? { the_instructions_ask_to_fix: baseline.to_fix } : {}) },
          acceptance: { passed: beforeAcceptance.passed, failed: beforeAcceptance.failed, failures: acceptanceReport(beforeAcceptance, acceptance) },
        }
      : { build: "failed", ...buildReport(before.build) };
    const recorded = { test_baseline: baseline, target };

    if (beforeAcceptance && acceptance.length && beforeAcceptance.failed === 0 && !baseline.to_fix.length && ctx.request.modify !== "always") {
      ctx.log(`modify: no change needed: all ${acceptance.length} acceptance test(s) pass on the upstream binary`);
      const report: ModifyReport = { rounds: 0, commits: [], tests_old: testsOld, tests_new: testsOld, changed_files: [], needed_change: false };
      return { ...recorded, modify: report, tests: { ...countsOf(judgeRun(baselineResults, before.tests!.run)), ...acceptanceUpstreamCounts(acceptanceUpstream) } };
    }

    const mainFiles = [path.posix.join(target.dir, "Cargo.toml"), ...(resolved.mainFile ? [resolved.mainFile] : [])];
    const prompt = new ModifyPrompt(
      workspace,
      startHead,
      {
        instructions: ctx.request.instructions,
        behaviour: plan?.behaviour ?? ctx.request.instructions,
        acceptance,
        package: target.package,
        bin: target.bin,
        upstream: status,
      },
      mainFiles,
    );
    const system = renderPrompt("edit", "system");

    const commits: string[] = [];
    let rounds = 0;
    let reads = 0;
    let requests = 0;
    let feedback = "";
    let last: RoundResult | undefined;
    let accepted = { verdict: judgeRun(baselineResults, before.tests?.run ?? { targets: [], inconsistencies: [] }, baseline.to_fix), changed: [] as string[] };
    let finalAcceptance = { passed: acceptanceUpstream.passed, failed: acceptanceUpstream.failed };

    const checkRound = async (answer: ModifyAnswer): Promise<RoundResult> => {
      if (answer.edits.length) {
        try {
          await applyEdits(workspace, answer.edits, (root) => cargoMetadata({ ...run, cwd: root, timeoutMs: 120_000 }));
        } catch (err) {
          if (!(err instanceof EditRejected)) throw err;
          return { done: false, verdict: "rejected-edits", details: fenceJson("problems", err.problems), summary: `edits refused: ${err.problems.join("; ")}` };
        }
      }
      const codeChanges = testCodeChanges(upstreamCode, await scanTests(workspace), allow);
      const refusal = testCodeRefusal(codeChanges);
      if (refusal.length) {
        await restoreToHead(workspace);
        return { done: false, verdict: "rejected-tests", details: fenceJson("problems", refusal), summary: refusal.join("; ") };
      }
      const checked = await checks(rounds);
      if (!checked.build.ok) {
        const report = buildReport(checked.build);
        return { done: false, verdict: "build-failed", details: fenceJson("cargo build", report), summary: `cargo build failed: ${firstLine(report)}` };
      }
      const tests = checked.tests!;
      const verdict = judgeRun(baselineResults, tests.run, baseline.to_fix);
      const gone = tests.run.targets.length ? missingProblem(verdict) : undefined;
      if (gone) {
        await restoreToHead(workspace);
        return { done: false, verdict: "rejected-tests", details: fenceJson("problems", [gone]), summary: gone };
      }
      const failing = failingProblem({ ...verdict, unfixed: [] });
      if (failing || !tests.run.targets.length) {
        return {
          done: false,
          verdict: "tests-failed",
          details: fenceJson("cargo test", testReport(tests, new Set(known.map(nameOf)))),
          summary: `cargo test failed${failing ? `: ${failing}` : ": the tests did not build or run"}`,
        };
      }
      const headBefore = await headCommit(workspace);
      const head = await commitAll(workspace, `flakebot: round ${rounds}: ${answer.summary || "changes by the LLM"}`.slice(0, 200));
      if (head !== headBefore) commits.push(head);
      accepted = { verdict, changed: [...new Set(codeChanges.map((c) => c.allowedBy!))] };
      const acc = await acceptanceOf(setup, checked.build);
      finalAcceptance = { passed: acc.passed, failed: acc.failed };
      if (verdict.unfixed.length) {
        const why = failingProblem(verdict)!;
        return { done: false, verdict: "unfixed", details: fenceJson("cargo test", { still_failing: verdict.unfixed, ...testReport(tests) }), summary: why };
      }
      if (acc.failed) {
        const failingNames = acc.results.filter((r) => !r.ok).map((r) => r.name);
        return {
          done: false,
          verdict: "acceptance-failed",
          details: fenceJson("failing acceptance tests", acceptanceReport(acc, acceptance)),
          summary: `acceptance tests failed: ${failingNames.join(", ")}`,
        };
      }
      if ((await changedSince(workspace, startHead)).length && verdict.passed <= testsOld) {
        const why = `${verdict.passed} tests pass now and ${testsOld} passed before the change`;
        return { done: false, verdict: "no-new-tests", details: why, summary: `the change adds no passing tests (${why})` };
      }
      return { done: true };
    };

    while (rounds < maxRounds) {
      if (meter.totalTokens >= tokenBudget) {
        throw new CraftError(
          "modify",
          `the LLM token budget (${tokenBudget}) ran out after ${rounds} round(s)${lastFailure ? `; the last round failed: ${lastFailure}` : ""}. Try clearer instructions, another crate, or modify "never"`,
        );
      }
      if (budget.left <= 0) throw outOfTime(rounds);
      const content = await prompt.render(rounds + 1, maxRounds, feedback);
      requests++;
      ctx.log(`modify: request ${requests} (round ${rounds + 1}): ${Buffer.byteLength(system) + Buffer.byteLength(content)} bytes of prompt`);
      let answer: ModifyAnswer;
      try {
        ({ value: answer } = await waitingForModel(
          ctx,
          rounds + 1,
          askJson(llm, { system, messages: [{ role: "user", content }], schema: ModifyAnswerSchema, meter, maxTokens: 16_384, signal: ctx.signal, timeoutMs: budget.left }),
        ));
      } catch (err) {
        if (err instanceof StructuredAnswerError) throw new CraftError("modify", `${err.message}. Try another model (FLAKEBOT_MODEL) or retry`);
        if (err instanceof LlmCallError) {
          throw new CraftError("modify", `${err.message} in round ${rounds + 1}${lastFailure ? `; the last round failed: ${lastFailure}` : ""}. Check the LLM endpoint, raise FLAKEBOT_LLM_TIMEOUT, or craft with modify "never"`);
        }
        throw err;
      }

      if (answer.read.length && !answer.edits.length) {
        if (reads < maxReads) {
          reads++;
          ctx.progress(`modify: the LLM reads ${answer.read.join(", ")}`);
          prompt.read(answer.read);
          feedback = renderPrompt("repair", "files");
        } else {
          feedback = renderPrompt("repair", "read-limit");
        }
        continue;
      }

      rounds++;
      ctx.progress(`modify: round ${rounds} of ${maxRounds}: ${answer.edits.length} edit(s)${answer.summary ? `: ${answer.summary}` : ""}`);
      last = await checkRound(answer);
      if (last.done) break;
      lastFailure = last.summary;
      ctx.log(`modify: round ${rounds}: ${last.summary}`);
      feedback = renderPrompt("repair", last.verdict!, { round: rounds, details: last.details ?? "" });
    }

    if (!last?.done) {
      throw new CraftError(
        "modify",
        `no change passed its checks within ${maxRounds} round(s)${lastFailure ? `; the last round failed: ${lastFailure}` : ""}. Try clearer instructions, another crate ("crate"), or modify "never"`,
      );
    }

    let diff = await diffSince(workspace, base);
    if (diff.length > DIFF_BYTES) diff = `${diff.slice(0, DIFF_BYTES)}\n[... diff cut at ${DIFF_BYTES} bytes]`;
    const changedFiles = await changedSince(workspace, startHead);
    const report: ModifyReport = {
      rounds,
      commits,
      tests_old: testsOld,
      tests_new: accepted.verdict.passed,
      changed_files: changedFiles,
      needed_change: changedFiles.length > 0 || acceptanceUpstream.failed > 0,
    };
    ctx.log(
      `modify: done in ${rounds} round(s): tests ${testsOld} -> ${accepted.verdict.passed}; acceptance ${acceptanceUpstream.passed}/${acceptance.length} on upstream, ${finalAcceptance.passed}/${acceptance.length} after the change`,
    );
    return {
      ...recorded,
      tests: {
        ...countsOf(accepted.verdict),
        acceptance_passed: finalAcceptance.passed,
        acceptance_failed: finalAcceptance.failed,
        ...(accepted.changed.length ? { changed_upstream_tests: accepted.changed } : {}),
        acceptance_upstream: acceptanceUpstream,
      },
      llm: meter.usage(rounds),
      diff_stat: diff,
      modify: report,
    } as Partial<Craft>;
  };
}

/** The Rust test counts of a verdict, known failures set apart. */
function countsOf(v: ReturnType<typeof judgeRun>) {
  return { passed: v.passed, failed: v.failed, acceptance_passed: 0, acceptance_failed: 0, ...(v.stillFailing.length ? { known_failures: v.stillFailing } : {}) };
}

function acceptanceUpstreamCounts(upstream: { passed: number; failed: number }) {
  return { acceptance_passed: upstream.passed, acceptance_failed: upstream.failed, acceptance_upstream: upstream };
}

/** libtest's name of a test id (`target::name`). */
function nameOf(id: string): string {
  return id.split("::").slice(1).join("::");
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
