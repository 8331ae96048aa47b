// The change gate on what runs: the upstream test run before any change is the baseline,
// and after a change every upstream test that passed must still be compiled, run and pass.
// A test missing from the run for any reason (deleted, renamed, #[ignore], cfg-ed out, its
// target dropped or no longer run) is named. Tests that failed before any change are known
// failures: they neither block nor count, unless the instructions ask to fix them.
import { splitTestId, testResults, type TestResult, type TestRun } from "./test-report.js";

/** The upstream run before any change: test id -> result (kept in the craft's manifest). */
export type Baseline = Record<string, TestResult>;

export function baselineOf(run: TestRun): Baseline {
  // Sorted: libtest reports parallel tests in the order they finish.
  return Object.fromEntries([...testResults(run)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The upstream tests of each test target: libtest names by target label ("src/lib.rs"). */
export function upstreamByTarget(baseline: Baseline): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of Object.keys(baseline)) {
    const { target, name } = splitTestId(id);
    out.set(target, [...(out.get(target) ?? []), name]);
  }
  return out;
}

/** Upstream tests that failed before any change. */
export function knownFailures(baseline: Baseline): string[] {
  return Object.entries(baseline)
    .filter(([, r]) => r === "failed")
    .map(([id]) => id);
}

/**
 * Known failures the instructions ask to fix: those whose name (the whole libtest name or
 * its last part) the instructions mention as a word.
 */
export function testsToFix(baseline: Baseline, instructions: string): string[] {
  const words = new Set(instructions.match(/[A-Za-z_][\w:]*/g) ?? []);
  return knownFailures(baseline).filter((id) => {
    const name = id.split("::").slice(1).join("::");
    return words.has(name) || words.has(name.split("::").pop()!);
  });
}

export interface GateVerdict {
  /** Upstream tests that passed before and are absent or ignored now: the round is refused. */
  missing: string[];
  /** Upstream tests that passed before and fail now. */
  regressions: string[];
  /** Tests that are new with the change and fail. */
  newFailures: string[];
  /** Tests the instructions ask to fix that still do not pass. */
  unfixed: string[];
  /** Known failures that still fail (reported, not counted). */
  stillFailing: string[];
  /** The run's output does not add up (see TestRun.inconsistencies). */
  inconsistencies: string[];
  passed: number;
  /** Failures that count: every failure but the known ones. */
  failed: number;
}

export function judgeRun(baseline: Baseline, run: TestRun, toFix: readonly string[] = []): GateVerdict {
  const now = testResults(run);
  const v: GateVerdict = { missing: [], regressions: [], newFailures: [], unfixed: [], stillFailing: [], inconsistencies: run.inconsistencies, passed: 0, failed: 0 };
  for (const [id, before] of Object.entries(baseline)) {
    const after = now.get(id);
    if (toFix.includes(id) && after !== "ok") v.unfixed.push(id);
    if (before === "failed" && after === "failed") v.stillFailing.push(id);
    if (before !== "ok" || after === "ok") continue;
    if (after === undefined) v.missing.push(`${id} did not run`);
    else if (after === "ignored") v.missing.push(`${id} is ignored now`);
    else v.regressions.push(id);
  }
  for (const [id, result] of now) {
    if (result === "ok") v.passed++;
    if (result !== "failed" || baseline[id] === "failed") continue;
    v.failed++;
    if (!(id in baseline)) v.newFailures.push(id);
  }
  return v;
}

const SHOWN = 12;

function list(items: string[]): string {
  return items.length > SHOWN ? `${items.slice(0, SHOWN).join("; ")}; and ${items.length - SHOWN} more` : items.join("; ");
}

/** Why a run refuses the change outright (tests gone or forged output), or undefined. */
export function missingProblem(v: GateVerdict): string | undefined {
  if (v.inconsistencies.length) return `the test output does not add up (${list(v.inconsistencies)}): tests must not print libtest's own lines`;
  if (!v.missing.length) return undefined;
  return `upstream tests that passed before the change no longer run: ${list(v.missing)}. Every upstream test must still be compiled, run and pass: do not delete, rename, #[ignore] or cfg them out, and keep their test targets built (Cargo.toml [[test]], autotests, harness, test = false)`;
}

/** What the tests that run say against the change (failures to fix in the code), or undefined. */
export function failingProblem(v: GateVerdict): string | undefined {
  const parts: string[] = [];
  if (v.regressions.length) parts.push(`upstream tests that passed before now fail: ${list(v.regressions)}`);
  if (v.newFailures.length) parts.push(`new tests fail: ${list(v.newFailures)}`);
  if (v.unfixed.length) parts.push(`the instructions ask to fix ${list(v.unfixed)}, and it still does not pass`);
  return parts.length ? parts.join("; ") : undefined;
}

/**
 * The gate on the test run of the tree that is packaged (the test stage, a Nix check
 * phase): held to the baseline when the modify stage recorded one, else the run is its own
 * baseline. Returns the counts to report, or why the run refuses the tool.
 */
export function gateFinalRun(
  baseline: { results: Baseline; to_fix: string[] } | undefined,
  run: TestRun,
): { counts: { passed: number; failed: number; known_failures?: string[] }; problem?: string } {
  const v = judgeRun(baseline?.results ?? baselineOf(run), run, baseline?.to_fix ?? []);
  const counts = { passed: v.passed, failed: v.failed, ...(v.stillFailing.length ? { known_failures: v.stillFailing } : {}) };
  return { counts, problem: missingProblem(v) ?? failingProblem(v) };
}
