// package: the craft's backend turns the tested build into the tool's binary; with
// FLAKEBOT_BACKEND=auto a failed Nix build falls back to the cargo build, flagged.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { cargoBackend } from "../../backends/cargo/backend.js";
import { buildStage } from "./build.js";
import { testStage } from "./test.js";
import { countResults, parseTestRun, testResults } from "../../guard/test-report.js";
import type { TestReader } from "../../model/test-run.js";
import type { Craft } from "../../model/craft.js";
import { judgeRun, missingProblem } from "../../guard/test-gate.js";

/**
 * The gate's reading of a build log's test run, as the Nix backend counts it, held to the
 * baseline the modify stage recorded: an upstream test that passed before the change and no
 * longer runs in the check phase refuses the tool, as it would in the cargo test stage.
 */
export function checkPhaseReader(baseline: Craft["test_baseline"]): TestReader {
  return (output) => {
    const run = parseTestRun(output);
    const failures = [...testResults(run)].filter(([, result]) => result === "failed").map(([id]) => id);
    const problem = baseline ? missingProblem(judgeRun(baseline.results, run, baseline.to_fix)) : undefined;
    return { ...countResults(run), failures, suites: run.targets.filter((t) => t.finished).length, ...(problem ? { problem } : {}) };
  };
}

/** The reading of a check phase with no change to hold it to (an unmodified crate). */
export const readCheckPhase: TestReader = checkPhaseReader(undefined);

export const packageStage: StageFn = async (ctx, craft) => {
  const backend = ctx.backend ?? cargoBackend;
  try {
    return await backend.package({ ...ctx, readTests: checkPhaseReader(craft.test_baseline) }, craft);
  } catch (err) {
    const fallback = ctx.fallback;
    // Failing tests are the crate's, whichever backend runs them: no fallback for those.
    if (!fallback || ctx.signal.aborted || !(err instanceof CraftError) || err.stage !== "package") throw err;
    const reason = err.message.split("\n")[0].slice(0, 500);
    ctx.log(`${backend.name} build failed; falling back to the ${fallback.name} build (not reproducible): ${err.message}`);
    ctx.progress(`${backend.name} build failed: packaging the ${fallback.name} build instead (flagged as not reproducible)`);
    // The Nix backend compiled nothing on the host: the fallback builds and tests first.
    const instead = { ...ctx, backend: fallback, fallback: undefined };
    let record = { ...craft, ...(await buildStage(instead, craft)) };
    if (!record.build?.cached) record = { ...record, ...(await testStage(instead, record)) };
    const packaged = record.build?.cached ? record : { ...record, ...(await fallback.package(instead, record)) };
    return { tests: packaged.tests, build: { ...packaged.build!, backend: fallback.name, reproducible: false, fallback_reason: reason } };
  }
};
