// What the build and test stages say when cargo fails: the first errors, not the noise.
import type { Diagnostic } from "../../backends/cargo/cargo.js";
import type { Craft } from "../../model/craft.js";

export function describeErrors(diagnostics: Diagnostic[], output: string): string {
  const errors = diagnostics.filter((d) => d.level === "error").slice(0, 5);
  const text = errors.length > 0 ? errors.map((d) => d.rendered.trim()).join("\n\n") : output;
  return text.length > 6000 ? `${text.slice(0, 6000)}\n[...]` : text;
}

export function needTarget(craft: Craft) {
  if (!craft.target) throw new Error("stage reached without a target (a bug: acquire sets it)");
  return craft.target;
}
