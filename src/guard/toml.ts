// Which keys a TOML document sets, as key paths: the manifest guard needs what cargo
// metadata does not report ([patch], [replace], a target's `harness`). The parsing is
// smol-toml's (TOML 1.0, every spelling: dotted and quoted keys, inline tables, arrays of
// tables); this file only flattens the parsed document into its leaves.
import { parse, TomlError as ParseError } from "smol-toml";

/** One scalar the document sets: its key path (arrays by index) and its value. */
export interface TomlLeaf {
  path: string[];
  /** A string's text; a date in ISO 8601; any other scalar as JavaScript prints it (true, 1500). */
  value: string;
}

export class TomlError extends Error {}

export function tomlLeaves(text: string): TomlLeaf[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof ParseError) throw new TomlError(err.message.split("\n")[0]);
    throw err;
  }
  const leaves: TomlLeaf[] = [];
  const walk = (value: unknown, at: string[]): void => {
    if (value instanceof Date) leaves.push({ path: at, value: value.toISOString() });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, String(i)]));
    else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
    else leaves.push({ path: at, value: String(value) });
  };
  walk(doc, []);
  return leaves;
}
