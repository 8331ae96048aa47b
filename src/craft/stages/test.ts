// test: the crate's own tests (`cargo test --release`, sandboxed) under the change gate:
// every upstream test that passed before any change still runs and passes.
import { type StageFn } from "../context.js";
import { craftCargoRun } from "../cargo-run.js";
import { CraftError } from "../../model/errors.js";
import { cargoTest } from "../../backends/cargo/cargo.js";
import { describeErrors, needTarget } from "./build-errors.js";
import { gateFinalRun } from "../../guard/test-gate.js";
import { readTests, upstreamSplit } from "../checks.js";
import { testsDoNotCompile } from "../../model/test-run.js";

export const testStage: StageFn = async (ctx, craft) => {
  const target = needTarget(craft);
  // With Nix the tests run in the nix build's check phase (package), with the flake's toolchain.
  if (ctx.backend?.name === "nix") return {};
  ctx.progress(`cargo test --release (${target.package})`);
  const split = await upstreamSplit(ctx.paths.workspace, target, craft.test_baseline?.results);
  const outcome = readTests(await cargoTest(target, await craftCargoRun(ctx, target, (l) => ctx.log(l)), split));
  if (!outcome.ok && outcome.run.targets.length === 0) {
    const why = describeErrors(outcome.diagnostics, outcome.output);
    // Upstream's own tests that do not compile here (a newer toolchain, a dev-dependency the
    // registry lacks) fail before any change: for an unchanged crate they are a known failure
    // of the whole test build, reported, and the binary is still held to its acceptance tests.
    if (!craft.modify?.commits.length) {
      const first = why.split("\n").find((l) => l.trim()) ?? "no output";
      ctx.log(`cargo test: the crate's own tests do not compile before any change (a known failure, not counted):\n${why}`);
      const { known_failures: earlier = [], ...counted } = craft.tests ?? { acceptance_passed: 0, acceptance_failed: 0 };
      return { tests: { ...counted, passed: 0, failed: 0, known_failures: [...earlier, testsDoNotCompile(first)] } };
    }
    throw new CraftError("test", `cargo test: the tests did not compile or run\n${why}`);
  }
  // Held to the baseline the modify stage recorded; without a change this run is the
  // baseline, so its failures are known ones (failing before any change), not the tool's.
  const gate = gateFinalRun(craft.test_baseline, outcome.run);
  if (gate.problem) throw new CraftError("test", `cargo test: ${gate.problem}\n${describeErrors(outcome.diagnostics, outcome.failureText || outcome.output)}`);
  if (gate.counts.known_failures) ctx.log(`cargo test: known failures (failing before any change, not counted): ${gate.counts.known_failures.join(", ")}`);
  // Acceptance counts come from modify and verify; this stage owns the Rust test counts.
  const { known_failures: _earlier, ...rest } = craft.tests ?? { acceptance_passed: 0, acceptance_failed: 0 };
  return { tests: { ...rest, ...gate.counts } };
};
