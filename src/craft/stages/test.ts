// test: the crate's own tests (`cargo test --release`, sandboxed) under the change gate:
// every upstream test that passed before any change still runs and passes.
import { type StageFn } from "../context.js";
import { craftCargoRun } from "../cargo-run.js";
import { CraftError } from "../../model/errors.js";
import { cargoTest } from "../../backends/cargo/cargo.js";
import { describeErrors, needTarget } from "./build-errors.js";
import { gateFinalRun } from "../../guard/test-gate.js";
import { readTests } from "../checks.js";

export const testStage: StageFn = async (ctx, craft) => {
  const target = needTarget(craft);
  // With Nix the tests run in the nix build's check phase (package), with the flake's toolchain.
  if (ctx.backend?.name === "nix") return {};
  ctx.progress(`cargo test --release (${target.package})`);
  const outcome = readTests(await cargoTest(target, await craftCargoRun(ctx, target, (l) => ctx.log(l))));
  if (!outcome.ok && outcome.run.targets.length === 0) {
    throw new CraftError("test", `cargo test: the tests did not compile or run\n${describeErrors(outcome.diagnostics, outcome.output)}`);
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
