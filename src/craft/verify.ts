// verify: run the packaged binary the way callers will (sandboxed when the sandbox is on),
// read its --help, and write the usage text and the description for the agent.
import { CraftError, type StageFn } from "./context.js";
import { invokeBinary } from "../exec/invoke.js";
import { usageText } from "./usage.js";
import type { Craft } from "./types.js";

const HELP_CAP = 16 * 1024;

async function readHelp(run: (args: string[]) => Promise<{ stdout: string; stderr: string; exit_code: number | null }>): Promise<string> {
  for (const flag of ["--help", "-h"]) {
    const r = await run([flag]);
    const text = (r.stdout.trim() ? r.stdout : r.stderr).slice(0, HELP_CAP);
    if (text.trim() && r.exit_code === 0) return text;
  }
  return "";
}

/** The program's one-line summary: the first help line that reads like a sentence. */
export function summaryFrom(help: string): string | undefined {
  return help
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.split(/\s+/).length >= 3 && !/^(usage|options|arguments|flags)\b/i.test(l) && !/^[\w-]+ v?\d+\.\d+/.test(l));
}

export function verifyStage(sandboxed: boolean): StageFn {
  return async (ctx, craft) => {
    const binary = craft.build!.binary;
    const run = (args: string[]) =>
      invokeBinary({ binary, scratch: ctx.paths.scratch, sandboxed, signal: ctx.signal }, { args, timeout_ms: 15_000 });
    const probe = await run(["--help"]);
    if (probe.exit_code === null && !probe.timed_out) {
      throw new CraftError("verify", `the built binary could not be run: ${probe.stderr.trim().slice(0, 500)}`);
    }
    const help = await readHelp(run);
    const withHelp: Craft = { ...craft, help, sandboxed };
    return {
      help,
      sandboxed,
      description: summaryFrom(help) ?? craft.description,
      usage: usageText(withHelp),
    };
  };
}
