// The usage text returned to the agent: how to call the new tool directly and through
// invoke_tool, with an example grounded in the binary's real --help output.
import type { Craft } from "../model/craft.js";
import { ARGV_ORDER, usableParams } from "./argv.js";

const USAGE_LINE = /^\s*usage:\s*(.*)$/i;

/** Picks an example call from the help text: a real option of the program, and stdin when it reads it. */
export function exampleCall(help: string): { args: string[]; stdin?: string } {
  const options = [...help.matchAll(/^\s+(?:-\w,\s+)?(--[a-z][a-z0-9-]*)(?![=\s]*<)/gm)]
    .map((m) => m[1])
    .filter((o) => o !== "--help" && o !== "--version");
  const readsStdin = /stdin|standard input/i.test(help);
  const args = options.length > 0 ? [options[0]] : [];
  return readsStdin ? { args, stdin: "hello world\n" } : { args: args.length > 0 ? args : ["--help"] };
}

export function usageText(craft: Craft): string {
  const help = craft.help ?? "";
  const example = exampleCall(help);
  const direct = JSON.stringify(example);
  const viaInvoke = JSON.stringify({ name: craft.name, ...example });
  const usageLine = help.split("\n").map((l) => USAGE_LINE.exec(l)?.[1]).find((u) => u && u.trim());
  const lines = [
    `The tool \`${craft.name}\` runs ${craft.target?.bin ?? "the program"} ${craft.target?.version ?? ""}`.trimEnd() + ".",
    ``,
    `Call it directly (if your client has refreshed its tool list): ${craft.name} ${direct}`,
    `Or through invoke_tool (always works): invoke_tool ${viaInvoke}`,
    ``,
    `"args" is the program's argv (no shell: quote nothing), "stdin" its standard input, "timeout_ms" a limit (default 60000).`,
    `The result has exit_code, stdout, stderr, truncated and timed_out; a non-zero exit code is a normal result.`,
  ];
  const named = usableParams(craft.params ?? []);
  if (named.length > 0) {
    lines.push(`Named parameters are accepted too: ${named.map((p) => p.name).join(", ")}. ${ARGV_ORDER}`);
  }
  if (usageLine) lines.push(``, `Command line: ${usageLine.trim()}`);
  if (help) lines.push(``, `Its --help says:`, help.trim().split("\n").slice(0, 40).join("\n"));
  return lines.join("\n");
}
