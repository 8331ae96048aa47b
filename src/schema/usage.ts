// The usage text returned to the agent: how to call the new tool directly and through
// invoke_tool, with the example verify ran (never one that was not seen to work).
import type { Craft } from "../model/craft.js";
import { ARGV_ORDER, usableParams } from "./argv.js";

const USAGE_LINE = /^\s*usage:\s*(.*)$/i;

export function usageText(craft: Craft): string {
  const help = craft.help ?? "";
  const usageLine = help.split("\n").map((l) => USAGE_LINE.exec(l)?.[1]).find((u) => u && u.trim());
  const features = craft.target?.features?.length ? ` (built with the features ${craft.target.features.join(", ")})` : "";
  const lines = [`The tool \`${craft.name}\` runs ${craft.target?.bin ?? "the program"} ${craft.target?.version ?? ""}`.trimEnd() + `${features}.`, ``];
  const example = craft.example;
  if (example) {
    const raw = { args: example.argv, ...(example.stdin !== undefined ? { stdin: example.stdin } : {}) };
    lines.push(`Example (run and checked when the tool was crafted): ${craft.name} ${JSON.stringify(example.call)}`);
    if (JSON.stringify(raw) !== JSON.stringify(example.call)) lines.push(`The same call as plain arguments: ${craft.name} ${JSON.stringify(raw)}`);
    lines.push(`Through invoke_tool (always works): invoke_tool ${JSON.stringify({ name: craft.name, ...raw })}`);
  } else {
    lines.push(
      `No example call could be checked (none of the tried ones exited 0).`,
      `Call it directly: ${craft.name} {"args": [...], "stdin": "..."}; through invoke_tool (always works): invoke_tool {"name": "${craft.name}", "args": [...]}`,
    );
  }
  lines.push(
    ``,
    `"args" is the program's argv (no shell: quote nothing), "stdin" its standard input, "timeout_ms" a limit (default 60000).`,
    `The result has exit_code, stdout, stderr, truncated and timed_out; a non-zero exit code is a normal result.`,
  );
  const named = usableParams(craft.params ?? []);
  if (named.length > 0) {
    lines.push(`Named parameters are accepted too: ${named.map((p) => p.name).join(", ")}. ${ARGV_ORDER} None is required by the schema; "args" alone is always a valid call.`);
  }
  if (usageLine) lines.push(``, `Command line: ${usageLine.trim()}`);
  if (help) lines.push(``, `Its help (${craft.help_args?.length ? craft.help_args.join(" ") : "run with no arguments"}) says:`, help.trim().split("\n").slice(0, 40).join("\n"));
  return lines.join("\n");
}
