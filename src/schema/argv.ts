// A crafted tool's named parameters (from its --help) as a zod input shape, and a call's
// named values back into an argv array.
//
// The argv order is fixed and documented, so the same call always runs the same command:
//   1. flags and options in the order the help lists them: a true flag as `--flag`, an
//      option as two items `--opt value` (repeated per value when it takes several);
//   2. positionals in the order the help lists them;
//   3. the raw `args`, as given.
// Flags that are false and values that are absent are left out. Every value is one argv item,
// never interpreted by a shell. An option value starting with "-" would be read as another
// flag, so it is attached instead: `--opt=-5` (or `-n-5` for an option with only a short
// form). A positional value starting with "-" (other than "-" itself, which conventionally
// means standard input) puts "--" before the positionals, after which the program reads every
// remaining item, the raw `args` included, as a positional. Positionals are filled in order,
// so a value for one whose earlier positional is absent is refused (ParamValueError) rather
// than silently landing in the earlier slot.
//
// The schema requires no named parameter: `{args}` or `{stdin}` alone is always a valid call.
// What the usage line requires is checked here instead, and only for a call that uses named
// parameters and no raw `args` (which may carry them): missingRequired() lists what is missing.
import { z } from "zod";
import type { HelpParam } from "../model/craft.js";
import { PARAM_NAME, RESERVED_KEYS } from "./help.js";

/** The argv order in one sentence, for tool descriptions and usage texts. */
export const ARGV_ORDER =
  "Named parameters become command-line arguments in a fixed order: flags and options in the order the tool's --help lists them, then positional arguments, then the raw `args`.";

/** Parameters that can be exposed: valid, unreserved, unique names (first one wins). */
export function usableParams(params: readonly HelpParam[]): HelpParam[] {
  const seen = new Set<string>();
  return params.filter((p) => {
    if (!PARAM_NAME.test(p.name) || RESERVED_KEYS.includes(p.name) || seen.has(p.name)) return false;
    if (p.kind !== "positional" && !p.flag) return false;
    seen.add(p.name);
    return true;
  });
}

/** The zod raw shape of the named parameters (the caller adds args/stdin/timeout_ms). */
export function paramsToZodShape(params: readonly HelpParam[]): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const p of usableParams(params)) {
    let schema: z.ZodType =
      p.kind === "flag" ? z.boolean() : p.choices?.length ? z.enum(p.choices as [string, ...string[]]) : p.type === "number" ? z.number() : z.string();
    if (p.kind !== "flag" && p.multiple) schema = z.array(schema);
    shape[p.name] = schema.describe(describeParam(p)).optional();
  }
  return shape;
}

function describeParam(p: HelpParam): string {
  const how =
    p.kind === "flag"
      ? `flag ${p.flag}`
      : p.kind === "option"
        ? `option ${p.flag}${p.multiple ? " (repeated for each value)" : ""}`
        : `positional argument${p.multiple ? "s" : ""}`;
  const needed = p.required ? "; required unless given through args" : "";
  return p.description ? `${p.description} (${how}${needed})` : `${how}${needed}`;
}

/** The input as a strict object: a misspelt parameter is refused, with the known ones listed. */
export function strictInput(shape: z.ZodRawShape): z.ZodObject {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown parameter${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}: this tool takes ${known}` : undefined,
  });
}

/**
 * The required parameters a call with named values leaves out; none for a call that passes
 * raw `args` (they may carry them) or no named value at all (`{stdin}` alone is a call).
 */
export function missingRequired(params: readonly HelpParam[], values: Record<string, unknown>, rawArgs: readonly string[] = []): HelpParam[] {
  const usable = usableParams(params);
  if (rawArgs.length > 0 || !usable.some((p) => values[p.name] !== undefined && values[p.name] !== null)) return [];
  return usable.filter((p) => p.required && (values[p.name] === undefined || values[p.name] === null));
}

/** A named value of the wrong type: a clear message for the caller to show. */
export class ParamValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParamValueError";
  }
}

/** The argv items (after the program) for named values and raw args, in the documented order. */
export function buildArgv(params: readonly HelpParam[], values: Record<string, unknown>, rawArgs: readonly string[] = []): string[] {
  const usable = usableParams(params);
  const missing = missingRequired(params, values, rawArgs);
  if (missing.length > 0) {
    throw new ParamValueError(
      `missing required parameter${missing.length > 1 ? "s" : ""} ${missing.map((p) => p.name).join(", ")}: give ${missing.length > 1 ? "them" : "it"} by name, or pass the whole command line as "args"`,
    );
  }
  const argv: string[] = [];
  for (const p of usable) {
    if (p.kind === "positional") continue;
    const v = values[p.name];
    if (v === undefined || v === null) continue;
    if (p.kind === "flag") {
      if (typeof v !== "boolean") throw new ParamValueError(`${p.name} is a flag: pass true or false`);
      if (v) argv.push(p.flag!);
      continue;
    }
    for (const item of valueItems(p, v)) {
      if (item.startsWith("-")) argv.push(p.flag!.startsWith("--") ? `${p.flag}=${item}` : `${p.flag}${item}`);
      else argv.push(p.flag!, item);
    }
  }
  const positionals: string[] = [];
  let skipped: HelpParam | undefined;
  for (const p of usable) {
    if (p.kind !== "positional") continue;
    const v = values[p.name];
    if (v === undefined || v === null) {
      skipped ??= p;
      continue;
    }
    // Positionals are filled in order: a value after a gap would land in the earlier slot.
    if (skipped) throw new ParamValueError(`${p.name} needs ${skipped.name} too: positional arguments are filled in order`);
    positionals.push(...valueItems(p, v));
  }
  if (positionals.some((item) => item.startsWith("-") && item !== "-")) argv.push("--");
  argv.push(...positionals, ...rawArgs);
  return argv;
}

function valueItems(p: HelpParam, v: unknown): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (Array.isArray(v) && !p.multiple) throw new ParamValueError(`${p.name} takes one value, not a list`);
  return list.map((item) => {
    if (p.type === "number") {
      if (typeof item !== "number" || !Number.isFinite(item)) throw new ParamValueError(`${p.name} must be a number`);
      return String(item);
    }
    if (typeof item !== "string") throw new ParamValueError(`${p.name} must be a string`);
    if (p.choices?.length && !p.choices.includes(item)) throw new ParamValueError(`${p.name} must be one of ${p.choices.join(", ")}`);
    return item;
  });
}
