// verify: run the packaged binary the way callers will (sandboxed when the sandbox is on),
// read its --help into typed parameters, run the plan's acceptance tests against it, and
// write the usage text and the description for the agent.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { invokeBinary, type InvokeTarget } from "../../exec/invoke.js";
import { usageText } from "../../schema/usage.js";
import { parseHelp, pickHelpText } from "../../schema/help.js";
import { runAcceptance } from "../acceptance.js";
import { writeUsage } from "../../llm/usage.js";
import type { Craft } from "../../model/craft.js";

const HELP_CAP = 16 * 1024;

type HelpRun = Awaited<ReturnType<typeof invokeBinary>>;

function helpText(r: HelpRun): string {
  const text = pickHelpText(r.stdout, r.stderr).slice(0, HELP_CAP);
  return text.trim() && r.exit_code === 0 ? text : "";
}

/** The help from the `--help` probe already run, else from `-h`. */
async function readHelp(target: InvokeTarget, probe: HelpRun): Promise<string> {
  return helpText(probe) || helpText(await invokeBinary(target, { args: ["-h"], timeout_ms: 15_000 }));
}

/** The program's one-line summary: the first help line that reads like a sentence. */
export function summaryFrom(help: string): string | undefined {
  return help
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.split(/\s+/).length >= 3 && !/^(usage|options|arguments|flags)\b/i.test(l) && !/^[\w-]+ v?\d+\.\d+/.test(l));
}

export const verifyStage: StageFn = async (ctx, craft) => {
    const sandboxed = ctx.sandboxed ?? false;
    const target: InvokeTarget = { binary: craft.build!.binary, scratch: ctx.paths.scratch, sandboxed, signal: ctx.signal };
    const probe = await invokeBinary(target, { args: ["--help"], timeout_ms: 15_000 });
    if (probe.exit_code === null && !probe.timed_out) {
      throw new CraftError("verify", `the built binary could not be run: ${probe.stderr.trim().slice(0, 500)}`);
    }
    const help = await readHelp(target, probe);

    const acceptance = craft.acceptance ?? craft.plan?.acceptance ?? [];
    const summary = await runAcceptance(target, acceptance);
    const tests = { passed: 0, failed: 0, ...craft.tests, acceptance_passed: summary.passed, acceptance_failed: summary.failed };
    if (summary.failed > 0) {
      const failures = summary.results.filter((r) => !r.ok).map((r) => `- ${r.name}: ${r.problems.join("; ")}`);
      throw new CraftError("verify", `${summary.failed} of ${acceptance.length} acceptance test(s) failed against the packaged binary:\n${failures.join("\n")}`);
    }

    const params = parseHelp(help);
    const verified: Craft = { ...craft, help, params, sandboxed, tests };
    let usage = usageText(verified);
    if (ctx.llm && help) {
      try {
        usage = `${usage}\n\n${await writeUsage(ctx.llm, help, ctx.request.instructions, { toolName: craft.name, signal: ctx.signal })}`;
      } catch (err) {
        ctx.log(`usage: the LLM's usage text was not used: ${(err as Error).message}`);
      }
    }
    return { help, params, sandboxed, tests, description: summaryFrom(help) ?? craft.description, usage };
};
