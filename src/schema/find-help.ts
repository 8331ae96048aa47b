// Finding a program's help the way a person does: `--help`, then `-h`, then `help`, then no
// arguments at all; on stdout or stderr; whatever the exit code, as long as the text reads
// as help. A program's ordinary output (one that ignores `--help`) and an error message
// ("error: unexpected argument '--help'") are not help.
import { parseHelp, pickHelpText } from "./help.js";

export interface HelpRunOutput {
  exit_code: number | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
}

export type RunForHelp = (args: string[]) => Promise<HelpRunOutput>;

/** The ways to ask, in the order a person tries them. */
export const HELP_PROBES: readonly (readonly string[])[] = [["--help"], ["-h"], ["help"], []];

export interface FoundHelp {
  text: string;
  /** The arguments that printed it. */
  args: string[];
}

const HELP_CAP = 16 * 1024;
const USAGE_LINE = /^\s*usage:/im;
const ERROR_FIRST = /^\s*(error|fatal|panic|thread '[^']*' panicked)\b/i;
const UNKNOWN_ARGUMENT = /unknown|unrecognized|unrecognised|unexpected|invalid (option|argument)|wasn't expected|not expected|illegal option|no such (option|subcommand|command)/i;

/** Whether a text is a program's help: a usage line or options, and not an error message. */
export function isHelpText(text: string): boolean {
  if (!text.trim() || ERROR_FIRST.test(text)) return false;
  const params = parseHelp(text);
  if (USAGE_LINE.test(text)) return true;
  // No usage line: it takes several described options to read as help.
  return params.filter((p) => p.kind !== "positional").length >= 2;
}

/** Whether a failed run's output says an argument was not understood. */
export function isUnknownArgument(stderr: string, stdout = ""): boolean {
  return UNKNOWN_ARGUMENT.test(stderr) || (ERROR_FIRST.test(stdout) && UNKNOWN_ARGUMENT.test(stdout));
}

/** The first probe whose output is help, or undefined; `first` is the `--help` run already made. */
export async function findHelp(run: RunForHelp, first?: HelpRunOutput): Promise<FoundHelp | undefined> {
  for (const args of HELP_PROBES) {
    const r = args.length === 1 && args[0] === "--help" && first ? first : await run([...args]);
    if (r.timed_out) continue;
    for (const text of [pickHelpText(r.stdout, r.stderr), r.stdout, r.stderr]) {
      if (isHelpText(text)) return { text: text.slice(0, HELP_CAP), args: [...args] };
    }
  }
  return undefined;
}
