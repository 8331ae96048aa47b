// Prompts live in prompts/*.md and are filled here, and only here. A prompt file has
// sections that start with a line `=== name ===` (text before the first one is a note for
// people). `{{var}}` placeholders are filled in one pass, so text put in is never re-read
// as a template. Text from outside goes in through `fence()`: a labelled code fence that
// the prompts tell the model to treat as data, never as instructions.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type PromptName = "plan" | "select" | "edit" | "repair" | "usage" | "craft-a-tool";

/** prompts/ at the package root (this module runs from dist/src/llm). */
function promptsDir(): string {
  return fileURLToPath(new URL("../../../prompts/", import.meta.url));
}

const cache = new Map<string, Map<string, string>>();

function sections(name: PromptName): Map<string, string> {
  let parsed = cache.get(name);
  if (parsed) return parsed;
  const text = readFileSync(promptsDir() + `${name}.md`, "utf8");
  parsed = new Map();
  const parts = text.split(/^=== ([\w-]+) ===[ \t]*$/m);
  for (let i = 1; i < parts.length; i += 2) parsed.set(parts[i], parts[i + 1].trim());
  cache.set(name, parsed);
  return parsed;
}

/** The section `section` of prompts/<name>.md with every `{{var}}` filled from `vars`. */
export function renderPrompt(name: PromptName, section: string, vars: Record<string, string | number> = {}): string {
  const template = sections(name).get(section);
  if (template === undefined) throw new Error(`prompts/${name}.md has no section "${section}"`);
  const used = new Set<string>();
  const out = template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in vars)) throw new Error(`prompts/${name}.md (${section}) needs a value for {{${key}}}`);
    used.add(key);
    return String(vars[key]);
  });
  const unused = Object.keys(vars).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`prompts/${name}.md (${section}) has no place for ${unused.join(", ")}`);
  return out;
}

/**
 * Outside text as a fenced, labelled block of data. The fence is longer than any run of
 * backticks in the text, so the text cannot close it.
 */
export function fence(label: string, text: string, lang = "text"): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(Math.max(3, longest + 1));
  return `${ticks}${lang} data="${label.replace(/"/g, "'")}"\n${text}\n${ticks}`;
}

/** A value as pretty JSON in a fence (for structured data such as acceptance tests). */
export function fenceJson(label: string, value: unknown): string {
  return fence(label, JSON.stringify(value, null, 2), "json");
}
