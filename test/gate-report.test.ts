// The change gate reads what cargo test actually ran. Real cargo runs on the wordcount
// fixture (a library with unit tests, a binary, a [[test]] integration target) and on
// variants of it made the way a cheating change would: each upstream test that no longer
// runs is named, whatever the way it was taken out of the run.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { cargoTest } from "../src/backends/cargo/cargo.js";
import { parseTargetOutputs, parseTestRun, testResults } from "../src/guard/test-report.js";
import { readTests, upstreamSplit } from "../src/craft/checks.js";
import { FORGED_BLOCK } from "./helpers/forgery.js";
import { checkPhaseReader } from "../src/craft/stages/package.js";
import { baselineOf, gateFinalRun, judgeRun, missingProblem, testsToFix } from "../src/guard/test-gate.js";
import type { TargetInfo } from "../src/model/craft.js";
import { fixturesDir, tempDir, testEnv } from "./helpers/offline.js";

const TARGET: TargetInfo = { package: "wordcount", version: "0.1.0", bin: "wordcount", dir: "", in_workspace: false, has_lockfile: false };
let work: string;
let targetDir: string;

before(async () => {
  const t = await testEnv();
  for (const k of ["CARGO_HOME", "RUSTUP_HOME"]) process.env[k] = t.env[k];
  work = await tempDir("flakebot-gate-report-");
  // One target directory for every variant: only the fixture itself recompiles.
  targetDir = path.join(work, "target");
  process.env.CARGO_TARGET_DIR = targetDir;
});

async function variant(name: string, change: (dir: string) => Promise<void> = async () => {}): Promise<string> {
  const dir = path.join(work, name);
  await fs.cp(path.join(fixturesDir, "crates", "wordcount"), dir, { recursive: true });
  await change(dir);
  return dir;
}

async function run(dir: string) {
  const raw = await cargoTest(TARGET, { cwd: dir });
  return { ...readTests(raw), targets: raw.targets };
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await fs.readFile(file, "utf8");
  assert.ok(text.includes(from), `${from} is in ${file}`);
  await fs.writeFile(file, text.replace(from, to));
}

const UPSTREAM_PASSING = ["src/lib.rs::tests::counts_nothing", "src/lib.rs::tests::counts_simple", "tests/cli.rs::prints_help", "tests/cli.rs::prints_the_count"];

let baseline: ReturnType<typeof baselineOf>;

test("the upstream run, per target: each test by name and result", { timeout: 300_000 }, async () => {
  const outcome = await run(await variant("upstream"));
  assert.deepEqual(
    outcome.run.targets.map((t) => t.target),
    ["src/lib.rs", "src/main.rs", "tests/cli.rs", "doc-tests"],
  );
  baseline = baselineOf(outcome.run);
  assert.deepEqual(baseline, {
    "src/lib.rs::tests::counts_nothing": "ok",
    "src/lib.rs::tests::counts_simple": "ok",
    "src/lib.rs::tests::counts_runs_of_spaces": "failed",
    "tests/cli.rs::prints_help": "ok",
    "tests/cli.rs::prints_the_count": "ok",
  });
  assert.deepEqual(outcome.run.inconsistencies, []);
  assert.equal(outcome.passed, 4);
  assert.equal(outcome.failed, 1);
  assert.deepEqual(outcome.failures, ["tests::counts_runs_of_spaces"]);
  // An unchanged crate is its own baseline: the failing test is a known failure, not the tool's.
  assert.deepEqual(gateFinalRun(undefined, outcome.run), { counts: { passed: 4, failed: 0, known_failures: ["src/lib.rs::tests::counts_runs_of_spaces"] }, problem: undefined });
  assert.deepEqual(testsToFix(baseline, "count words; fix counts_runs_of_spaces"), ["src/lib.rs::tests::counts_runs_of_spaces"]);
  assert.deepEqual(testsToFix(baseline, "count words"), []);
});

const CHEATS: { name: string; change: (dir: string) => Promise<void>; missing: string[] }[] = [
  {
    name: "#[cfg(any())] on a passing test",
    change: (d) => edit(path.join(d, "src/lib.rs"), "    #[test]\n    fn counts_simple", "    #[test]\n    #[cfg(any())]\n    fn counts_simple"),
    missing: ["src/lib.rs::tests::counts_simple did not run"],
  },
  {
    name: "#[ignore] on a passing test",
    change: (d) => edit(path.join(d, "src/lib.rs"), "    #[test]\n    fn counts_simple", "    #[test]\n    #[ignore]\n    fn counts_simple"),
    missing: ["src/lib.rs::tests::counts_simple is ignored now"],
  },
  {
    name: "the [[test]] target dropped, autotests = false, trivial tests added",
    change: async (d) => {
      await edit(path.join(d, "Cargo.toml"), '[[test]]\nname = "cli"\npath = "tests/cli.rs"\n', "");
      await edit(path.join(d, "Cargo.toml"), 'license = "MIT"\n', 'license = "MIT"\nautotests = false\n');
      await edit(path.join(d, "src/lib.rs"), "mod tests {\n", "mod tests {\n    #[test]\n    fn a() {}\n    #[test]\n    fn b() {}\n    #[test]\n    fn c() {}\n");
    },
    missing: ["tests/cli.rs::prints_help did not run", "tests/cli.rs::prints_the_count did not run"],
  },
  {
    name: "harness = false on the integration target, with a main that runs nothing",
    change: async (d) => {
      await edit(path.join(d, "Cargo.toml"), 'path = "tests/cli.rs"\n', 'path = "tests/cli.rs"\nharness = false\n');
      await fs.appendFile(path.join(d, "tests/cli.rs"), "\nfn main() {}\n");
    },
    missing: ["tests/cli.rs::prints_help did not run", "tests/cli.rs::prints_the_count did not run"],
  },
  {
    name: "test = false on the library",
    change: (d) => edit(path.join(d, "Cargo.toml"), 'path = "src/lib.rs"\n', 'path = "src/lib.rs"\ntest = false\n'),
    missing: ["src/lib.rs::tests::counts_nothing did not run", "src/lib.rs::tests::counts_simple did not run"],
  },
  {
    name: "the integration test file renamed",
    change: async (d) => {
      await fs.rename(path.join(d, "tests/cli.rs"), path.join(d, "tests/cli2.rs"));
      await edit(path.join(d, "Cargo.toml"), 'path = "tests/cli.rs"', 'path = "tests/cli2.rs"');
    },
    missing: ["tests/cli.rs::prints_help did not run", "tests/cli.rs::prints_the_count did not run"],
  },
];

for (const cheat of CHEATS) {
  test(`a cheat the run shows: ${cheat.name}`, { timeout: 300_000 }, async () => {
    assert.ok(baseline, "the upstream run came first");
    const outcome = await run(await variant(cheat.name.replace(/\W+/g, "-"), cheat.change));
    const verdict = judgeRun(baseline, outcome.run);
    assert.deepEqual(verdict.missing, cheat.missing);
    assert.match(missingProblem(verdict) ?? "", /upstream tests that passed before the change no longer run/);
    assert.match(gateFinalRun({ results: baseline, to_fix: [] }, outcome.run).problem ?? "", new RegExp(cheat.missing[0].split(" ")[0].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
    for (const id of UPSTREAM_PASSING) if (!cheat.missing.some((m) => m.startsWith(id))) assert.equal(testResults(outcome.run).get(id), "ok", id);
    // The same run as one build log (a Nix check phase prints cargo's "Running" lines and the
    // tests' output in order): the check phase is held to the same baseline.
    const log = outcome.targets.map((t) => `     Running ${t.label}\n${t.stdout}`).join("\n");
    assert.match(checkPhaseReader({ results: baseline, to_fix: [] })(log).problem ?? "", /no longer run/);
    assert.equal(checkPhaseReader(undefined)(log).problem, undefined, "an unmodified crate's run is its own baseline");
  });
}

test("the honest fix: every upstream test still runs and passes, the test to fix passes", { timeout: 300_000 }, async () => {
  const dir = await variant("honest", (d) => edit(path.join(d, "src/lib.rs"), "text.trim_end_matches('\\n').split(' ').count()", "text.split_whitespace().count()"));
  const outcome = await run(dir);
  const v = judgeRun(baseline, outcome.run, ["src/lib.rs::tests::counts_runs_of_spaces"]);
  assert.deepEqual([v.missing, v.regressions, v.unfixed, v.stillFailing], [[], [], [], []]);
  assert.equal(v.passed, 5);
});

test("a test that prints a whole forged libtest block for upstream tests compiled out, then exits: caught once the upstream tests run apart", { timeout: 300_000 }, async () => {
  const dir = await variant("forged-block", (d) => edit(path.join(d, FORGED_BLOCK.path), FORGED_BLOCK.search, FORGED_BLOCK.replace));
  // Run whole, as one process per target, the forgery adds up: every count agrees.
  const whole = await run(dir);
  assert.deepEqual(whole.run.inconsistencies, []);
  assert.equal(gateFinalRun({ results: baseline, to_fix: [] }, whole.run).problem, undefined, "the forgery passes a run that is not split");
  // Split, the upstream tests' own process runs none of them, and the other one names them.
  const split = readTests(await cargoTest(TARGET, { cwd: dir }, await upstreamSplit(dir, TARGET, baseline)));
  const problem = gateFinalRun({ results: baseline, to_fix: [] }, split.run).problem ?? "";
  assert.match(problem, /the test output does not add up \(the test target src\/lib\.rs reported the upstream test tests::counts_nothing from the run that left it out/);
  const verdict = judgeRun(baseline, split.run);
  assert.deepEqual(verdict.missing, ["src/lib.rs::tests::counts_nothing did not run", "src/lib.rs::tests::counts_simple did not run"]);
  // The honest tree, split the same way, adds up and passes.
  const honest = await variant("split-honest");
  const raw = await cargoTest(TARGET, { cwd: honest }, await upstreamSplit(honest, TARGET, baseline));
  const clean = readTests(raw);
  assert.deepEqual(clean.run.inconsistencies, []);
  assert.deepEqual(baselineOf(clean.run), baseline);
  assert.deepEqual(raw.targets.map((t) => [t.label, t.only ? "upstream" : t.skip ? "new" : "whole"]), [
    ["src/lib.rs", "upstream"], ["src/lib.rs", "new"], ["src/main.rs", "whole"], ["tests/cli.rs", "upstream"], ["tests/cli.rs", "new"], ["doc-tests", "whole"],
  ], "a target with no upstream test (src/main.rs) and the doc tests run whole");
});

test("a process that reports more tests than libtest announced, or tests it was not asked to run, does not add up", () => {
  const forged = parseTestRun(["     Running src/lib.rs", "running 1 test", "test a ... ok", "test b ... ok", "", "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"].join("\n"));
  assert.deepEqual(forged.inconsistencies, ["the test target src/lib.rs announced 1 tests but reported 2"]);
  const block = (names: string[]) => [`running ${names.length} tests`, ...names.map((n) => `test ${n} ... ok`), "", `test result: ok. ${names.length} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out`].join("\n");
  const merged = parseTargetOutputs([
    { label: "src/lib.rs", stdout: block(["up", "extra"]), only: ["up"] },
    { label: "src/lib.rs", stdout: block(["new", "up"]), skip: ["up"] },
  ]);
  assert.deepEqual(merged.targets.map((t) => [t.target, [...t.tests.keys()], t.announced, t.summary?.passed]), [["src/lib.rs", ["up", "new"], 4, 4]]);
  assert.deepEqual(merged.inconsistencies, [
    "the test target src/lib.rs reported extra from the run of its upstream tests alone: tests must not print libtest's own lines",
    "the test target src/lib.rs reported the upstream test up from the run that left it out: tests must not print libtest's own lines",
  ]);
});

test("output that does not add up is named: a forged result line, a repeated test, a target reported twice", () => {
  const parsed = parseTestRun(
    [
      "     Running unittests src/lib.rs (target/release/deps/wordcount-1)",
      "",
      "running 1 test",
      "test tests::counts_simple ... ok",
      "test tests::counts_simple ... ok",
      "test tests::forged ... ok",
      "",
      "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
      "test tests::printed_by_a_child_left_running ... ok",
      "     Running unittests src/lib.rs (target/release/deps/wordcount-1)",
      "running 1 test",
      "test tests::gone ... ok",
      "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
    ].join("\n"),
  );
  assert.deepEqual(parsed.inconsistencies, [
    "the test src/lib.rs::tests::counts_simple was reported more than once",
    "the test target src/lib.rs listed 2 results but its summary counts 1",
    "the test target src/lib.rs reported results after its summary",
    "the test target src/lib.rs was reported more than once",
  ]);
  assert.match(missingProblem(judgeRun({}, parsed)) ?? "", /the test output does not add up/);
});

test("doc tests are named without their line numbers, which any edit above them shifts", () => {
  const parsed = parseTestRun(["   Doc-tests wordcount", "running 2 tests", "test src/lib.rs - words (line 3) ... ok", "test src/lib.rs - words (line 9) ... ok", "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"].join("\n"));
  assert.deepEqual([...testResults(parsed).keys()], ["doc-tests::src/lib.rs - words", "doc-tests::src/lib.rs - words #2"]);
});
