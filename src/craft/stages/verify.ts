// verify: run the packaged binary the way callers will (sandboxed when the sandbox is on),
// read its --help into typed parameters, run the plan's acceptance tests against it, and
// write the usage text and the description for the agent.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { invokeBinary, type InvokeTarget } from "../../exec/invoke.js";
import { usageText } from "../../schema/usage.js";
import { parseHelp } from "../../schema/help.js";
import { findHelp } from "../../schema/find-help.js";
import { checkedExample, exampleCandidates } from "../../schema/example.js";
import { asSentence, summaryFrom } from "../../schema/definition.js";
import { runAcceptance } from "../acceptance.js";
import { writeUsage } from "../../llm/usage.js";
import type { Craft } from "../../model/craft.js";

const HELP_TIMEOUT_MS = 15_000;
const EXAMPLE_TIMEOUT_MS = 5_000;

export const verifyStage: StageFn = async (ctx, craft) => {
  const sandboxed = ctx.sandboxed ?? false;
  const target: InvokeTarget = { binary: craft.build!.binary, scratch: ctx.paths.scratch, sandboxed, signal: ctx.signal };
  const probe = await invokeBinary(target, { args: ["--help"], timeout_ms: HELP_TIMEOUT_MS });
  if (probe.exit_code === null && !probe.timed_out) {
    throw new CraftError("verify", `the built binary could not be run (${probe.stderr.trim().slice(0, 500) || `killed by ${probe.signal ?? "a signal"}`}): check that it runs on this machine`);
  }
  const found = await findHelp((args) => invokeBinary(target, { args, timeout_ms: HELP_TIMEOUT_MS }), probe);
  const help = found?.text ?? "";
  ctx.log(found ? `verify: help from ${found.args.length ? found.args.join(" ") : "no arguments"}` : "verify: no help found (tried --help, -h, help and no arguments)");

  const acceptance = craft.acceptance ?? craft.plan?.acceptance ?? [];
  const summary = await runAcceptance(target, acceptance);
  const tests = { passed: 0, failed: 0, ...craft.tests, acceptance_passed: summary.passed, acceptance_failed: summary.failed };
  if (summary.failed > 0) {
    const failures = summary.results.filter((r) => !r.ok).map((r) => `- ${r.name}: ${r.problems.join("; ")}`);
    throw new CraftError("verify", `${summary.failed} of ${acceptance.length} acceptance test(s) failed against the packaged binary:\n${failures.join("\n")}`);
  }

  const params = parseHelp(help);
  const example = await checkedExample(params, exampleCandidates(params, help, found?.args), (argv, stdin) =>
    invokeBinary(target, { args: argv, stdin, timeout_ms: EXAMPLE_TIMEOUT_MS }),
  );
  ctx.log(example ? `verify: example ${JSON.stringify(example.call)} ran and exited 0` : "verify: no example call exited 0");
  const description = asSentence(craft.description ?? craft.target?.description ?? summaryFrom(help) ?? ctx.request.instructions);
  const verified: Craft = { ...craft, help, help_args: found?.args, params, sandboxed, tests, example, description };
  let usage = usageText(verified);
  if (ctx.llm && help) {
    try {
      usage = `${usage}\n\n${await writeUsage(ctx.llm, help, ctx.request.instructions, { toolName: craft.name, signal: ctx.signal })}`;
    } catch (err) {
      ctx.log(`usage: the LLM's usage text was not used: ${(err as Error).message}`);
    }
  }
  return { help, help_args: found?.args, params, sandboxed, tests, example, description, usage };
};
