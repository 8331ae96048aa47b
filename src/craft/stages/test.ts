// test: the crate's own tests (`cargo test --release`, sandboxed) must pass.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { cargoTest } from "../../backends/cargo/cargo.js";
import { describeErrors, needTarget } from "./build-errors.js";

export const testStage: StageFn = async (ctx, craft) => {
  const target = needTarget(craft);
  ctx.progress(`cargo test --release (${target.package})`);
  const outcome = await cargoTest(target, { cwd: ctx.paths.workspace, signal: ctx.signal, sandbox: ctx.sandboxed, onLine: (l) => ctx.log(l) });
  if (!outcome.ok) {
    const what = outcome.failed > 0 ? `${outcome.failed} test(s) failed: ${outcome.failures.join(", ")}` : "the tests did not compile or run";
    throw new CraftError("test", `cargo test: ${what}\n${describeErrors(outcome.diagnostics, outcome.output)}`);
  }
  // Acceptance counts come from modify and verify; this stage owns the Rust test counts.
  return { tests: { acceptance_passed: 0, acceptance_failed: 0, ...craft.tests, passed: outcome.passed, failed: 0 } };
};
