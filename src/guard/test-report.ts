// What a `cargo test` run actually ran: each test target (the "Running ..." and "Doc-tests"
// lines cargo writes) with the name and result of each test in it (libtest's own lines).
// The gate compares these, not the source: a test that is cfg-ed out, ignored, or whose
// target is dropped from Cargo.toml is simply absent from the run.
//
// Input is cargo's stdout and stderr in the order they were written, as in a terminal or
// a Nix build log (strip a log's own line prefixes, such as `nix log`'s "pkg> ", first).

export type TestResult = "ok" | "failed" | "ignored";

export interface TargetRun {
  /** The target as cargo names it: "src/lib.rs", "tests/cli.rs", "doc-tests". */
  target: string;
  /** Test name (libtest's, e.g. "tests::counts") -> result. */
  tests: Map<string, TestResult>;
  /** "running N tests": how many the binary said it would run. */
  announced?: number;
  /** The binary printed its "test result:" summary (it did not crash or hang). */
  finished: boolean;
  /** The summary's counts, when it printed one. */
  summary?: { passed: number; failed: number; ignored: number };
}

export interface TestRun {
  targets: TargetRun[];
  /**
   * Signs that the output does not add up (a target reported twice, a test listed twice,
   * more results than the summary counts): output forged by code under test, or cut short.
   */
  inconsistencies: string[];
}

/** One test as the gate names it: `target::name`. */
export interface TestId {
  id: string;
  target: string;
  name: string;
}

const RUNNING = /^\s*Running (?:unittests |benches )?(\S+)(?: \(.*\))?\s*$/;
const DOC_TESTS = /^\s*Doc-tests (\S+)\s*$/;
const ANNOUNCE = /^running (\d+) tests?$/;
const RESULT = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, .*)?$/;
const SUMMARY = /^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/;
// A doc test's name carries its line number, which any edit above it shifts.
const DOC_LINE = / \(line \d+\)$/;

/** Parses cargo test output (stdout and stderr interleaved as written) into per-target results. */
export function parseTestRun(output: string): TestRun {
  const targets: TargetRun[] = [];
  const inconsistencies: string[] = [];
  let current: TargetRun | undefined;
  const open = (target: string) => {
    if (targets.some((t) => t.target === target)) inconsistencies.push(`the test target ${target} was reported more than once`);
    current = { target, tests: new Map(), finished: false };
    targets.push(current);
  };
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const running = RUNNING.exec(line);
    if (running) {
      open(running[1]);
      continue;
    }
    if (DOC_TESTS.test(line)) {
      open("doc-tests");
      continue;
    }
    if (!current) continue;
    const announce = ANNOUNCE.exec(line);
    if (announce && current.announced === undefined) {
      current.announced = Number(announce[1]);
      continue;
    }
    const result = RESULT.exec(line);
    if (result && current.finished) {
      inconsistencies.push(`the test target ${current.target} reported results after its summary`);
      continue;
    }
    if (result) {
      let name = result[1].replace(/ - should panic$/, "");
      if (current.target === "doc-tests") name = name.replace(DOC_LINE, "");
      if (current.target === "doc-tests") {
        const base = name;
        for (let n = 2; current.tests.has(name); n++) name = `${base} #${n}`;
      } else if (current.tests.has(name)) {
        inconsistencies.push(`the test ${current.target}::${name} was reported more than once`);
      }
      current.tests.set(name, result[2] === "FAILED" ? "failed" : result[2] === "ok" ? "ok" : "ignored");
      continue;
    }
    const summary = SUMMARY.exec(line);
    if (summary) {
      current.finished = true;
      current.summary = { passed: Number(summary[1]), failed: Number(summary[2]), ignored: Number(summary[3]) };
      const counted = current.summary.passed + current.summary.failed + current.summary.ignored;
      if (counted !== current.tests.size) {
        inconsistencies.push(`the test target ${current.target} listed ${current.tests.size} results but its summary counts ${counted}`);
      } else if (current.announced !== undefined && current.announced !== counted) {
        // libtest announces what it will run before any test does: more results are printed by a test.
        inconsistencies.push(`the test target ${current.target} announced ${current.announced} tests but reported ${counted}`);
      }
    }
  }
  return { targets, inconsistencies };
}

/** One process of a test target: its output, and the tests it was asked to run or to leave out. */
export interface TargetOutputText {
  label: string;
  stdout: string;
  only?: string[];
  skip?: string[];
}

const FORGED = "tests must not print libtest's own lines";

/**
 * The run of test targets run one by one (one `cargo test` per target, or two: its upstream
 * tests alone, then the rest), each output known to be its target's: output that claims
 * another target, a test the process was not asked to run, or one it was asked to leave
 * out, is an inconsistency.
 */
export function parseTargetOutputs(outputs: TargetOutputText[]): TestRun {
  const run: TestRun = { targets: [], inconsistencies: [] };
  for (const o of outputs) {
    const one = parseTestRun(`     Running ${o.label}\n${o.stdout}`);
    if (one.targets.length !== 1) one.inconsistencies.push(`the output of the test target ${o.label} names other test targets`);
    const got = one.targets[0];
    // A result this process cannot have produced is not counted: the test stays missing.
    for (const name of [...got.tests.keys()]) {
      const forged = o.only && !o.only.includes(name)
        ? `the test target ${o.label} reported ${name} from the run of its upstream tests alone`
        : o.skip?.includes(name) ? `the test target ${o.label} reported the upstream test ${name} from the run that left it out` : undefined;
      if (!forged) continue;
      one.inconsistencies.push(`${forged}: ${FORGED}`);
      got.tests.delete(name);
    }
    run.inconsistencies.push(...one.inconsistencies);
    const same = run.targets.find((t) => t.target === got.target);
    if (same) mergeInto(same, got, run.inconsistencies);
    else run.targets.push(got);
  }
  return run;
}

/** Adds a second process's results of one target to the first's. */
function mergeInto(into: TargetRun, more: TargetRun, inconsistencies: string[]): void {
  for (const [name, result] of more.tests) {
    if (into.tests.has(name)) inconsistencies.push(`the test ${into.target}::${name} was reported more than once`);
    into.tests.set(name, result);
  }
  if (into.announced !== undefined || more.announced !== undefined) into.announced = (into.announced ?? 0) + (more.announced ?? 0);
  into.finished = into.finished && more.finished;
  if (into.summary && more.summary) {
    into.summary = { passed: into.summary.passed + more.summary.passed, failed: into.summary.failed + more.summary.failed, ignored: into.summary.ignored + more.summary.ignored };
  } else into.summary = undefined;
}

/** Every test of a run with its result, by id. */
export function testResults(run: TestRun): Map<string, TestResult> {
  const all = new Map<string, TestResult>();
  for (const t of run.targets) for (const [name, result] of t.tests) all.set(testId(t.target, name), result);
  return all;
}

export function testId(target: string, name: string): string {
  return `${target}::${name}`;
}

/** Splits an id back into its target and name. */
export function splitTestId(id: string): TestId {
  const at = id.indexOf("::");
  return { id, target: id.slice(0, at), name: id.slice(at + 2) };
}

/** Counts of a run: what passed, failed, was ignored. */
export function countResults(run: TestRun): { passed: number; failed: number; ignored: number } {
  let passed = 0;
  let failed = 0;
  let ignored = 0;
  for (const r of testResults(run).values()) {
    if (r === "ok") passed++;
    else if (r === "failed") failed++;
    else ignored++;
  }
  return { passed, failed, ignored };
}

/**
 * The sections in which libtest shows what each failing test printed and why it failed
 * ("---- name stdout ----" up to the list of failures), cut at `max` characters.
 */
export function failureSections(output: string, max = 6000): string {
  const kept: string[] = [];
  let inside = false;
  for (const line of output.split("\n")) {
    if (/^---- .+ stdout ----$/.test(line)) inside = true;
    else if (line === "failures:" || SUMMARY.test(line)) inside = false;
    if (inside) kept.push(line);
  }
  const text = kept.join("\n").trim();
  return text.length > max ? `${text.slice(0, max)}\n[... cut]` : text;
}
