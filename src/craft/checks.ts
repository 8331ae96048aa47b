// The checks a state of the workspace must pass: cargo build, cargo test, and the
// acceptance tests against the built binary. Used for the crate as it came and after
// every round of the modify loop.
import path from "node:path";
import { cargoBuild, cargoTest, type BuildOutcome, type CargoRun, type Diagnostic, type TestOutcome, type UpstreamSplit } from "../backends/cargo/cargo.js";
import { readRegularFile } from "../exec/safe-fs.js";
import { targetKey, unharnessedTargets } from "../guard/manifest.js";
import { upstreamByTarget, type Baseline } from "../guard/test-gate.js";
import { countResults, failureSections, parseTargetOutputs, type TestRun } from "../guard/test-report.js";
import { runAcceptance, type AcceptanceSummary } from "./acceptance.js";
import type { AcceptanceTest, TargetInfo } from "../model/craft.js";

export interface CheckSetup {
  target: TargetInfo;
  run: CargoRun;
  acceptance: AcceptanceTest[];
  scratch: string;
  sandboxed: boolean;
  /** The upstream run before any change, once recorded: its tests run apart from the new ones. */
  baseline?: Baseline;
}

export interface CheckOutcome {
  build: BuildOutcome;
  tests?: TestSummary;
  acceptance?: AcceptanceSummary;
}

/** Builds and tests; the acceptance tests run only when both pass. */
export async function buildAndTest(setup: CheckSetup): Promise<CheckOutcome> {
  const build = await cargoBuild(setup.target, setup.run);
  if (!build.ok) return { build };
  const tests = readTests(await cargoTest(setup.target, setup.run, await upstreamSplit(setup.run.cwd, setup.target, setup.baseline)));
  return { build, tests };
}

/**
 * How cargoTest runs a target's upstream tests apart from the new ones (so a new test cannot
 * print their results). Doc tests run whole (rustdoc runs each in a process of its own and
 * captures its output), and so do the targets the manifest runs without libtest's harness
 * (their own main reads its arguments, if at all, as it likes); the manifest guard refuses
 * a new one of those.
 */
export async function upstreamSplit(workspace: string, target: TargetInfo, baseline: Baseline | undefined): Promise<UpstreamSplit | undefined> {
  if (!baseline) return undefined;
  const byTarget = upstreamByTarget(baseline);
  const manifest = await readRegularFile(workspace, path.posix.join(target.dir, "Cargo.toml"), 4 * 1024 * 1024).then(String, () => "");
  const unharnessed = unharnessedTargets(manifest);
  return (sel) => (sel.kind === "doc" || unharnessed.has(targetKey(sel.kind, sel.name)) ? undefined : byTarget.get(sel.label));
}

/** A test run as the gate and the LLM see it: each test's result, the counts, the failures. */
export interface TestSummary {
  /** Everything compiled, ran and passed. */
  ok: boolean;
  passed: number;
  failed: number;
  ignored: number;
  /** libtest names of the failing tests. */
  failures: string[];
  diagnostics: Diagnostic[];
  output: string;
  run: TestRun;
  /** What the failing tests printed, and why they failed. */
  failureText: string;
}

export function readTests(outcome: TestOutcome): TestSummary {
  const run = parseTargetOutputs(outcome.targets);
  const counts = countResults(run);
  const text = outcome.targets.map((t) => t.stdout).join("\n");
  return {
    ok: outcome.compiled && outcome.targets.every((t) => t.exitCode === 0) && counts.failed === 0,
    ...counts,
    failures: run.targets.flatMap((t) => [...t.tests].filter(([, r]) => r === "failed").map(([name]) => name)),
    diagnostics: outcome.diagnostics,
    output: outcome.output,
    run,
    failureText: counts.failed ? failureSections(text) : "",
  };
}

export async function acceptanceOf(setup: CheckSetup, build: BuildOutcome): Promise<AcceptanceSummary> {
  return runAcceptance(
    { binary: build.executable!, scratch: setup.scratch, sandboxed: setup.sandboxed, signal: setup.run.signal },
    setup.acceptance,
  );
}

const MAX_ERRORS = 8;
const MAX_RENDERED = 1500;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n[... cut]` : text;
}

/** A build failure as structured data for the LLM: compiler errors first, else cargo's output. */
export function buildReport(build: BuildOutcome): object {
  const errors = build.diagnostics.filter((d) => d.level === "error");
  return errors.length
    ? {
        errors: errors.slice(0, MAX_ERRORS).map((d) => ({ file: d.file, line: d.line, message: d.message, rendered: clip(d.rendered, MAX_RENDERED) })),
        ...(errors.length > MAX_ERRORS ? { more_errors: errors.length - MAX_ERRORS } : {}),
      }
    : { output: clip(build.output, 4000) };
}

/** A test run as structured data; `known` failures (failing before any change) are set apart. */
export function testReport(tests: TestSummary, known: Set<string> = new Set()): object {
  return {
    passed: tests.passed,
    failed: tests.failed,
    failing_tests: tests.failures.filter((f) => !known.has(f)),
    ...(known.size ? { failing_before_the_change: [...known] } : {}),
    ...(tests.diagnostics.length ? { compile_errors: tests.diagnostics.slice(0, MAX_ERRORS).map((d) => d.message) } : {}),
    ...(tests.failureText ? { failures: tests.failureText } : {}),
    output: clip(tests.output, tests.failureText ? 1500 : 6000),
  };
}

export function acceptanceReport(acc: AcceptanceSummary, tests: AcceptanceTest[]): object[] {
  return acc.results
    .map((r, i) => ({ r, t: tests[i] }))
    .filter(({ r }) => !r.ok)
    .map(({ r, t }) => ({
      name: r.name,
      args: t.args,
      ...(t.stdin !== undefined ? { stdin: clip(t.stdin, 500) } : {}),
      expect_exit: t.expect_exit ?? 0,
      ...(t.expect_stdout ? { expect_stdout: t.expect_stdout } : {}),
      problems: r.problems,
      exit_code: r.exit_code,
      stdout: clip(r.stdout, 1500),
      stderr: clip(r.stderr, 1500),
    }));
}
