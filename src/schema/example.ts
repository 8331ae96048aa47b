// The usage example an agent reads first: built from the parsed parameters, then run (by the
// verify stage, sandboxed, with a short timeout). Only an example that validates against the
// tool's own input schema, exits 0 and prints something is offered; the help probe that
// worked is the last resort.
import type { HelpParam } from "../model/craft.js";
import { buildArgv, paramsToZodShape, strictInput, usableParams } from "./argv.js";
import { rawInputShape } from "./definition.js";
import type { HelpRunOutput } from "./find-help.js";

export interface Example {
  /** The call as the agent writes it: named values, `args`, `stdin`. */
  call: Record<string, unknown>;
  /** The argv it runs (after the program's name). */
  argv: string[];
  stdin?: string;
}

const SAMPLE_TEXT = "hello world\n";
const SAMPLE_WORD = "hello";
const MAX_CANDIDATES = 6;
/** Values that name files: the example has none to give. */
const FILE_LIKE = /file|path|dir|input|output|archive|src|dest|target/i;

function readsStdin(params: HelpParam[], help: string): boolean {
  return /\bstdin\b|standard input/i.test(help) || params.some((p) => p.kind === "positional" && !p.required && FILE_LIKE.test(p.name));
}

/** Values for the required positionals that are not files; undefined when one must be a file. */
function requiredValues(params: HelpParam[]): Record<string, unknown> | undefined {
  const values: Record<string, unknown> = {};
  for (const p of params) {
    if (!p.required) continue;
    if (p.kind === "flag") continue;
    if (p.choices?.length) values[p.name] = p.multiple ? [p.choices[0]] : p.choices[0];
    else if (FILE_LIKE.test(p.name)) return undefined;
    else {
      const v = p.type === "number" ? 1 : SAMPLE_WORD;
      values[p.name] = p.multiple ? [v] : v;
    }
  }
  return values;
}

/** Candidate calls, best first: a named flag or choice on sample input, then plainer ones. */
export function exampleCandidates(params: readonly HelpParam[], help: string, helpArgs?: string[]): Record<string, unknown>[] {
  const usable = usableParams(params);
  const base = requiredValues(usable);
  // Without help nothing says whether it reads stdin: try it with sample text first.
  const stdin = readsStdin(usable, help) || !help.trim() ? { stdin: SAMPLE_TEXT } : {};
  const flags = usable.filter((p) => p.kind === "flag").slice(0, 2);
  const choice = usable.find((p) => p.kind === "option" && !p.required && p.choices?.length);
  const out: Record<string, unknown>[] = [];
  if (base) {
    for (const f of flags) out.push({ ...base, [f.name]: true, ...stdin });
    if (choice) out.push({ ...base, [choice.name]: choice.multiple ? [choice.choices![0]] : choice.choices![0], ...stdin });
    out.push({ ...base, ...stdin });
    if (!help.trim()) out.push({ ...base });
  }
  const list = out.slice(0, MAX_CANDIDATES - 1);
  if (helpArgs) list.push({ args: helpArgs });
  return list;
}

/** The call as argv and stdin, or undefined when the tool's own schema would refuse it. */
export function toExample(params: readonly HelpParam[], call: Record<string, unknown>): Example | undefined {
  const schema = strictInput({ ...rawInputShape, ...paramsToZodShape(params) });
  if (!schema.safeParse(call).success) return undefined;
  const { args, stdin, timeout_ms: _t, raw_output: _r, ...named } = call as { args?: string[]; stdin?: string; timeout_ms?: number; raw_output?: boolean };
  try {
    return { call, argv: buildArgv(params, named, args ?? []), ...(stdin !== undefined ? { stdin } : {}) };
  } catch {
    return undefined;
  }
}

/** Runs the candidates in turn; the first that validates, exits 0 and prints something wins. */
export async function checkedExample(
  params: readonly HelpParam[],
  candidates: Record<string, unknown>[],
  run: (argv: string[], stdin: string) => Promise<HelpRunOutput>,
): Promise<Example | undefined> {
  for (const call of candidates) {
    const example = toExample(params, call);
    if (!example) continue;
    const r = await run(example.argv, example.stdin ?? "");
    if (!r.timed_out && r.exit_code === 0 && (r.stdout.trim() || r.stderr.trim())) return example;
  }
  return undefined;
}
