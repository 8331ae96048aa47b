// Turning a program's --help text into named parameters (HelpParam) for its MCP input
// schema. Understands clap 2, clap 3/4 (short and long help) and getopt/GNU-style help:
//
// - an option line is an indented list of forms (`-n, --length <N>`, `--files0-from=F`,
//   `-C, --check=quiet`) followed by two or more spaces and a description, or by the end of
//   the line (the description then follows on deeper-indented lines, as in clap's long help);
// - positionals come from an ARGS/Arguments section and from the first usage line, whose
//   spelling decides whether they are required (`<FILE>`) or optional (`[FILE]`); `...`
//   makes them multiple. clap 2 writes `<FILE>` in ARGS even for optional ones, so the usage
//   line wins;
// - a long form with a lowercase literal value (`--check=quiet`) is a flag written exactly so;
//   a long form with an optional attached value (`--color[=WHEN]`) is kept as a plain flag,
//   because its value could only be passed attached (pass `--color=always` through `args`);
// - a value is a number only when it is plainly one: a numeric default (`[default: 16]`), or
//   a value name that means a count (`<N>`, `NUM`, `COUNT`, `COLS`...), and no unit in the
//   help (`4KiB`, `1G`, `10%`); otherwise a string. `[possible values: a, b]`, clap 4's
//   "Possible values:" list and GNU's "WHEN is 'always', 'never', or 'auto'" become choices;
// - a section header may be indented one space (tar); an indented table whose rows are not
//   options (cut's "  N-M   from N'th ...", "  -M   ...") holds no options;
// - a line of forms ending in "," continues on the next line (grep's `--color[=WHEN],`);
//   a lowercase value name is a value when another form of the option names it too
//   (sed's `-e script, --expression=script`).
//
// Names are JSON property names `^[a-z][a-z0-9_]*$`: `--min-len` -> `min_len`, `-x` -> `x`,
// `-X` -> `x_upper`. A name equal to a reserved key of every crafted tool (`args`, `stdin`,
// `timeout_ms`) gets a trailing underscore (`args_`); any other clash gets `_2`, `_3`...
// -h/--help and -V/--version are skipped. Help that yields nothing usable gives [].
import type { HelpParam } from "../model/craft.js";

/** Input keys every crafted tool has; parameters derived from --help never take them. */
export const RESERVED_KEYS: readonly string[] = ["args", "stdin", "timeout_ms", "raw_output"];
export const PARAM_NAME = /^[a-z][a-z0-9_]*$/;

const MAX_DESCRIPTION = 400;
const MAX_PARAMS = 200;
const MAX_HELP_CHARS = 256 * 1024;

/** Value names that mean a number when the help gives no default. */
const NUMERIC_VALUE_NAMES = new Set([
  "n", "num", "number", "count", "int", "integer", "uint", "cols", "columns", "rows", "digits", "jobs", "threads",
]);

/** A unit or suffix in the help: the value is not a plain number (`4KiB`, `1G`, `10%`). */
const UNIT = /\d\s*(?:[kmgtp]i?b?|%)(?![a-z])|\b(?:units?|suffix(?:es)?|multiplier)\b/i;

/** Usage placeholders that stand for options, not positionals. */
const OPTION_PLACEHOLDERS = new Set(["option", "options", "flag", "flags", "switches", "opts"]);

interface Form {
  /** "-n", "--length" or a literal "--check=quiet". */
  text: string;
  long: boolean;
  /** The value's name when this form takes a required value. */
  value?: string;
  multiple: boolean;
}

interface Item {
  kind: "option" | "positional";
  forms: Form[];
  /** Positional: the metavariable as written in the help ("FILE"). */
  meta?: string;
  bracket?: "<" | "[" | "";
  multiple: boolean;
  /** The column its forms start at; deeper lines continue its description. */
  indent: number;
  description: string[];
}

interface UsageToken {
  name: string;
  required: boolean;
  multiple: boolean;
}

export function parseHelp(text: string): HelpParam[] {
  if (!text || !text.trim()) return [];
  const lines = normalize(text.slice(0, MAX_HELP_CHARS));
  const usage = parseUsage(lines);
  const { options, positionals, commands } = scanItems(lines);

  const params: HelpParam[] = [];
  const taken = new Set<string>(RESERVED_KEYS);
  const add = (p: HelpParam, base: string) => {
    p.name = uniqueName(base, taken);
    params.push(p);
  };

  const flags = new Set<string>();
  for (const item of options) {
    const p = optionParam(item, usage);
    if (!p || flags.has(p.flag!)) continue; // the same option listed twice
    flags.add(p.flag!);
    add(p, p.name);
  }

  // Positionals in the usage line's order (the order argv fills them), with the ARGS
  // section's descriptions; ARGS entries the usage line lacks follow in their own order.
  const described = new Map(positionals.map((item) => [item.meta!.toLowerCase(), item]));
  const ordered = usage.positionals.map((t) => {
    const item = described.get(t.name.toLowerCase());
    described.delete(t.name.toLowerCase());
    const isCommand = isCommandWord(t.name) && commands.length > 0;
    const description = item ? oneLine(item.description) : isCommand ? `one of: ${commands.join(", ")}` : "";
    return { ...t, multiple: t.multiple || !!item?.multiple, description, choices: isCommand ? commands : undefined };
  });
  for (const item of described.values()) {
    ordered.push({ name: item.meta!, required: item.bracket !== "[", multiple: item.multiple, description: oneLine(item.description), choices: undefined });
  }
  for (const pos of ordered) {
    const p: HelpParam = {
      name: "",
      kind: "positional",
      type: isNumericName(pos.name) ? "number" : "string",
      required: pos.required,
      multiple: pos.multiple,
    };
    if (pos.description) p.description = pos.description;
    if (pos.choices) p.choices = [...pos.choices];
    const base = toName(pos.name);
    if (base) add(p, base);
  }
  inheritAliases(params);
  return params.slice(0, MAX_PARAMS);
}

/** "An alias for -n/--length": the alias takes what the option it names takes. */
function inheritAliases(params: HelpParam[]): void {
  for (const p of params) {
    const flag = /^an alias for (?:-\w\/)?(--[\w-]+)/i.exec(p.description ?? "")?.[1];
    const of = flag && params.find((q) => q.flag === flag && q !== p);
    if (!of || of.kind !== p.kind) continue;
    p.type = of.type;
    if (of.choices) p.choices = [...of.choices];
  }
}

/**
 * The help text of a `--help` run: some programs print it on stderr (hexyl 0.8 does), so the
 * stream that yields more parameters wins; stdout on a tie.
 */
export function pickHelpText(stdout: string, stderr: string): string {
  if (!stderr.trim()) return stdout;
  if (!stdout.trim()) return stderr;
  return parseHelp(stderr).length > parseHelp(stdout).length ? stderr : stdout;
}

function normalize(text: string): string[] {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => expandTabs(l).replace(/\s+$/, ""));
}

function expandTabs(line: string): string {
  if (!line.includes("\t")) return line;
  let out = "";
  for (const ch of line) out += ch === "\t" ? " ".repeat(8 - (out.length % 8)) : ch;
  return out;
}

const indentOf = (line: string) => line.length - line.trimStart().length;

// ---------------------------------------------------------------------------------------
// Option forms

const SHORT = /^-([A-Za-z0-9?])(?![A-Za-z0-9-])/;
const LONG = /^--([A-Za-z0-9][A-Za-z0-9_-]*)/;

/**
 * Parses the forms at the start of `s`; returns them and where the description starts.
 * `open` means the line ended in "," and the forms go on on the next line.
 */
function parseForms(s: string): { forms: Form[]; rest: string; open?: boolean } | undefined {
  const forms: Form[] = [];
  let i = 0;
  for (;;) {
    const at = s.slice(i);
    const m = LONG.exec(at) ?? SHORT.exec(at);
    if (!m) return undefined;
    const long = m[0].startsWith("--");
    let text = m[0];
    i += m[0].length;
    let value: string | undefined;
    let multiple = false;
    let after = s.slice(i);
    let v: RegExpExecArray | null;
    if ((v = /^\[=?<?([^\]>]+)>?\](\.\.\.)?/.exec(after)) || (v = /^ \[<([^>]+)>\](\.\.\.)?/.exec(after))) {
      // An optional value: `--color[=WHEN]` stays a flag; `--color [<WHEN>]` takes a separate value.
      if (v[0].startsWith(" ")) value = v[1];
      i += v[0].length;
    } else if ((v = /^=<([^>]+)>(\.\.\.)?/.exec(after)) || (v = /^=([A-Z][A-Z0-9_-]*)(\.\.\.)?(?![A-Za-z0-9])/.exec(after))) {
      value = v[1];
      multiple = !!v[2];
      i += v[0].length;
    } else if ((v = /^=([a-z0-9][a-z0-9_.-]*)(?![A-Za-z0-9])/.exec(after)) && long) {
      text += `=${v[1]}`; // a literal spelling such as --check=quiet
      i += v[0].length;
    } else if (
      (v = /^ ?<([^>]+)>(\.\.\.)?/.exec(after)) ||
      (v = /^ ([A-Z][A-Z0-9_-]*)(\.\.\.)?(?=$|,| {2,}| \[)/.exec(after)) ||
      (!long && (v = /^ ([a-z][a-z0-9_-]*)()(?=, ?--)/.exec(after)))
    ) {
      value = v[1];
      multiple = !!v[2];
      i += v[0].length;
    }
    after = s.slice(i);
    if (/^\.\.\./.test(after)) {
      multiple = true;
      i += 3;
      after = s.slice(i);
    }
    forms.push({ text, long, value, multiple });
    const sep = /^(, ?| (?=-))/.exec(after);
    if (sep) {
      i += sep[0].length;
      if (i >= s.length) return { forms: literalsAsValues(forms), rest: "", open: true };
      continue;
    }
    if (after === "") return { forms: literalsAsValues(forms), rest: "" };
    const gap = /^ {2,}/.exec(after);
    return gap ? { forms: literalsAsValues(forms), rest: after.slice(gap[0].length) } : undefined;
  }
}

/** `--expression=script` next to `-e script` takes a value named script, not a literal. */
function literalsAsValues(forms: Form[]): Form[] {
  const names = new Set(forms.map((f) => f.value).filter((v): v is string => v !== undefined));
  return forms.map((f) => {
    const m = /^(--[^=]+)=(.+)$/.exec(f.text);
    return m && names.has(m[2]) ? { ...f, text: m[1], value: m[2] } : f;
  });
}

function optionParam(item: Item, usage: Usage): HelpParam | undefined {
  const forms = item.forms.map((f) => (f.value === undefined && usage.valueFlags.has(f.text) ? { ...f, value: usage.valueFlags.get(f.text) } : f));
  const description = oneLine(item.description);
  if (forms.some((f) => f.text === "--help" || f.text === "--version")) return undefined;
  if (forms.length === 1 && (forms[0].text === "-h" || (forms[0].text === "-V" && /version/i.test(description)))) return undefined;

  const primary = forms.find((f) => f.long && !(f.text.includes("=") && forms.some((g) => g !== f && g.long))) ?? forms.find((f) => f.long) ?? forms[0];
  const valued = forms.find((f) => f.value !== undefined);
  const name = primary.long ? toName(primary.text.slice(2)) : shortName(primary.text.slice(1));
  if (!name) return undefined;
  const p: HelpParam = { name, kind: valued ? "option" : "flag", flag: primary.text, type: "boolean" };
  if (valued) {
    const choices = choicesOf(item.description, valued.value!);
    if (choices) p.choices = choices;
    p.type = choices ? "string" : valueType(valued.value!, description);
    if (forms.some((f) => f.multiple) || item.multiple) p.multiple = true;
    if (forms.some((f) => usage.requiredFlags.has(f.text))) p.required = true;
  }
  if (description) p.description = description;
  return p;
}

function valueType(valueName: string, description: string): "string" | "number" {
  if (UNIT.test(description)) return "string";
  const def = /\[default: *("?)([^\]"]*)\1\]/.exec(description);
  if (def) return /^-?\d+(\.\d+)?$/.test(def[2].trim()) ? "number" : "string";
  return isNumericName(valueName) ? "number" : "string";
}

/**
 * The values an option takes, when its help lists them: clap's `[possible values: a, b]`,
 * clap 4's long "Possible values:" list of `- a: ...` lines, GNU's "WHEN is 'a', 'b', or 'c'".
 */
function choicesOf(lines: string[], valueName: string): string[] | undefined {
  const text = lines.join(" ").replace(/\s+/g, " ");
  const short = /\[possible values: ([^\]]+)\]/.exec(text);
  if (short) return clean(short[1].split(/,\s*/));
  const at = lines.findIndex((l) => /^possible values:$/i.test(l.trim()));
  if (at >= 0) {
    const values: string[] = [];
    for (const l of lines.slice(at + 1)) {
      const m = /^- ([^\s:]+)(?::|$)/.exec(l.trim());
      if (m) values.push(m[1]);
      else if (l.trim()) break;
    }
    return clean(values);
  }
  const escaped = valueName.replace(/[^A-Za-z0-9_-]/g, "");
  const gnu = escaped && new RegExp(`\\b${escaped} is ((?:'[^']+'(?:,? or |, )?)+)`).exec(text);
  if (gnu) return clean([...gnu[1].matchAll(/'([^']+)'/g)].map((m) => m[1]));
  return undefined;
}

function clean(values: string[]): string[] | undefined {
  const list = [...new Set(values.map((v) => v.trim()).filter((v) => /^[\w.+-]+$/.test(v)))];
  return list.length >= 2 ? list : undefined;
}

function isNumericName(name: string): boolean {
  return NUMERIC_VALUE_NAMES.has(name.toLowerCase().replace(/[^a-z]/g, ""));
}

// ---------------------------------------------------------------------------------------
// Scanning the text for option items, ARGS-section positionals and subcommand names

function sectionOf(line: string): string | undefined {
  // "OPTIONS:", "Options:", "Ordering options:", "positional arguments:", "USAGE:"
  const m = /^([A-Za-z][A-Za-z0-9 _-]{0,40}):$/.exec(line);
  return m ? m[1].toLowerCase() : undefined;
}

const isArgsSection = (s: string) => /^(args|arguments|positional arguments|positionals)$/.test(s);
const isCommandsSection = (s: string) => /^(subcommands|commands|available commands)$/.test(s);

function scanItems(lines: string[]): { options: Item[]; positionals: Item[]; commands: string[] } {
  const options: Item[] = [];
  const positionals: Item[] = [];
  const commands: string[] = [];
  let section = "";
  let current: Item | undefined;
  let optionIndent = Number.POSITIVE_INFINITY;
  /** The indent of the last line of a table that is not an option list (cut's ranges). */
  let tableIndent: number | undefined;
  let open = false;

  for (const line of lines) {
    const indent = indentOf(line);
    const body = line.trimStart();
    if (!body) {
      if (current) current.description.push("");
      if (section === "usage") section = "";
      tableIndent = undefined;
      open = false;
      continue;
    }
    if (open && current && body.startsWith("-")) {
      const more = parseForms(body);
      if (more) {
        current.forms.push(...more.forms);
        current.description = [more.rest];
        open = !!more.open;
        continue;
      }
    }
    open = false;
    if (indent <= 1 && sectionOf(body) !== undefined) {
      current = undefined;
      tableIndent = undefined;
      section = sectionOf(body)!;
      continue;
    }
    if (body.startsWith("-") && indent <= optionIndent + 4 && indent !== tableIndent && section !== "usage" && !/example/.test(section)) {
      const parsed = parseForms(body);
      if (parsed) {
        // A long-only option is usually indented past the "-x, " of the others: its column is theirs.
        const column = body.startsWith("--") && indent >= 4 ? indent - 4 : indent;
        optionIndent = Math.min(optionIndent, column);
        current = { kind: "option", forms: parsed.forms, multiple: false, indent: column, description: [parsed.rest] };
        options.push(current);
        open = !!parsed.open;
        continue;
      }
    }
    if (current && indent >= current.indent + 3) {
      current.description.push(body);
      continue;
    }
    current = undefined;
    if (indent > 0 && !isArgsSection(section) && !isCommandsSection(section) && /^\S+ {2,}\S/.test(body)) tableIndent = indent;
    if (indent === 0) {
      // A header starts a section; any other unindented line is prose and ends one.
      section = /^usage:/i.test(body) ? "usage" : (sectionOf(body) ?? "");
      continue;
    }
    if (isArgsSection(section)) {
      const m = /^(?:<([^>]+)>|\[([^\]]+)\]|([A-Za-z][\w-]*))(\.\.\.)?(?: {2,}(.*))?$/.exec(body);
      if (m) {
        const meta = (m[1] ?? m[2] ?? m[3]).replace(/\.\.\.$/, "");
        const bracket = m[1] ? "<" : m[2] ? "[" : "";
        current = { kind: "positional", forms: [], meta, bracket, multiple: !!m[4] || (m[2] ?? "").endsWith("..."), indent, description: [m[5] ?? ""] };
        positionals.push(current);
      }
    } else if (isCommandsSection(section)) {
      const m = /^([a-z][\w-]*)(?: {2,}|$)/.exec(body);
      if (m && m[1] !== "help") commands.push(m[1]);
    }
  }
  return { options, positionals, commands };
}

// ---------------------------------------------------------------------------------------
// The first usage line's positionals

interface Usage {
  positionals: UsageToken[];
  /** Options written outside brackets (`--name <NAME>`): clap's required options. */
  requiredFlags: Set<string>;
  /** Options the usage line shows with a value (`[-n <name>]`): argh lists them bare. */
  valueFlags: Map<string, string>;
}

function parseUsage(lines: string[]): Usage {
  const usage: Usage = { positionals: [], requiredFlags: new Set(), valueFlags: new Map() };
  const at = lines.findIndex((l) => /^\s*usage:/i.test(l));
  if (at < 0) return usage;
  let line = lines[at].replace(/^\s*usage:\s*/i, "");
  if (!line) line = (lines.slice(at + 1).find((l) => l.trim()) ?? "").trim();
  for (const m of line.matchAll(/(?:^|[\s[(|])(--?[A-Za-z0-9][\w-]*)[= ](<[^<>]+>|[A-Z][A-Z0-9_-]*)/g)) {
    usage.valueFlags.set(m[1], m[2].replace(/^<|>$/g, ""));
  }
  const tokens = splitUsage(line).slice(1); // the first token is the program's name
  let afterOption = false;
  for (const raw of tokens) {
    if (raw.startsWith("-")) {
      const flag = /^--?[A-Za-z0-9][\w.-]*/.exec(raw)?.[0];
      if (flag && flag !== "--") usage.requiredFlags.add(flag);
      afterOption = !!flag && !raw.includes("=");
      continue;
    }
    const wasValue = afterOption && /^(<[^<>]+>|[A-Z][A-Z0-9_-]*)(\.\.\.)?$/.test(raw);
    afterOption = false;
    if (wasValue) continue; // the value of the option before it
    const t = positionalToken(raw);
    if (t) usage.positionals.push(t);
  }
  return usage;
}

/** `[FILE]...` -> FILE, optional, multiple; `<FILE>` -> required; undefined for the rest. */
function positionalToken(raw: string): UsageToken | undefined {
  let t = raw;
  let multiple = false;
  if (t.endsWith("...")) {
    multiple = true;
    t = t.slice(0, -3);
  }
  let required = true;
  if (/^\[.*\]$/.test(t)) {
    required = false;
    t = t.slice(1, -1).trim();
    if (t.endsWith("...")) {
      multiple = true;
      t = t.slice(0, -3);
    }
  }
  let bracketed = false;
  if (/^<[^<>]+>$/.test(t)) {
    t = t.slice(1, -1);
    bracketed = true;
  }
  if (!/^[A-Za-z][\w-]*$/.test(t)) return undefined; // options, groups, alternatives
  if (!bracketed && t !== t.toUpperCase()) return undefined; // a literal word (a subcommand name)
  if (OPTION_PLACEHOLDERS.has(t.toLowerCase())) return undefined;
  return { name: t, required, multiple };
}

/** Splits a usage line on spaces outside brackets: `[-n <N>]` stays one token. */
function splitUsage(usage: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of usage) {
    if (ch === "[" || ch === "(" || ch === "{" || ch === "<") depth++;
    if (ch === "]" || ch === ")" || ch === "}" || ch === ">") depth = Math.max(0, depth - 1);
    if (/\s/.test(ch) && depth === 0) {
      if (cur) tokens.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  return tokens;
}

const isCommandWord = (name: string) => /^(sub)?commands?$/i.test(name);

// ---------------------------------------------------------------------------------------
// Names and descriptions

/** `min-len` -> `min_len`, `FILE` -> `file`; "" when nothing usable is left. */
export function toName(raw: string): string {
  let n = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!n) return "";
  if (!/^[a-z]/.test(n)) n = `opt_${n}`;
  return n.slice(0, 64);
}

function shortName(letter: string): string {
  if (/^[a-z]$/.test(letter)) return letter;
  if (/^[A-Z]$/.test(letter)) return `${letter.toLowerCase()}_upper`;
  if (/^[0-9]$/.test(letter)) return `opt_${letter}`;
  return "";
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = RESERVED_KEYS.includes(base) ? `${base}_` : base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/** Wrapped description lines -> one trimmed line. */
function oneLine(parts: string[]): string {
  const text = parts.join(" ").replace(/\s+/g, " ").trim();
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 1)}…` : text;
}
