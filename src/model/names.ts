// Tool names: what a client may register, and how one is derived when none is given.

export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;
export const META_TOOLS = ["craft_tool", "describe_tool", "invoke_tool", "dispose_tool"] as const;

/** Returns an error message for a name a client may not use, or undefined when it is fine. */
export function invalidName(name: string): string | undefined {
  if (!NAME_PATTERN.test(name)) {
    return `"${name.slice(0, 60)}" is not a valid tool name: use 1 to 48 characters, a lowercase letter first, then lowercase letters, digits or underscores (like hex_dump)`;
  }
  if ((META_TOOLS as readonly string[]).includes(name)) {
    return `"${name}" is one of Flakebot's own tools: choose another name`;
  }
  return undefined;
}

/** Turns any text (a crate name, a path's last part) into a valid tool name, or "". */
export function toToolName(text: string): string {
  let name = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^[^a-z]+/, "")
    .replace(/_+$/, "")
    .slice(0, 48)
    .replace(/_+$/, "");
  if ((META_TOOLS as readonly string[]).includes(name)) name = `${name}_crafted`;
  return NAME_PATTERN.test(name) ? name : "";
}

const STOP = new Set("a an the of to for from and or with that this in on by as is be it its into my me i you your please tool program make build create write want need which can should".split(" "));

/** A name from the instructions' first meaningful words ("show a hex dump" -> show_hex_dump). */
export function nameFromInstructions(instructions: string): string {
  const words = instructions.toLowerCase().match(/[a-z][a-z0-9]*/g) ?? [];
  return toToolName(words.filter((w) => !STOP.has(w)).slice(0, 3).join("_")) || "crafted_tool";
}

/** A name from the crate discovery chose: its one binary, else the crate ("duo-cli" shipping "duo" -> duo). */
export function nameFromCrate(crate: { name: string; bins?: string[] }): string {
  return (crate.bins?.length === 1 ? toToolName(crate.bins[0]) : "") || toToolName(crate.name);
}
