// Usage text for the agent written by the LLM, grounded in the program's real --help: an
// answer that names an option the help does not have is sent back as invalid.
import { z } from "zod";
import type { LlmProvider } from "./provider.js";
import { askJson, LlmMeter } from "./structured.js";
import { fence, renderPrompt } from "./prompts.js";

export interface UsageOptions {
  toolName?: string;
  meter?: LlmMeter;
  signal?: AbortSignal;
}

const OPTION = /(?<![\w-])--?[A-Za-z][\w-]*/g;

/** The options a text mentions that the help text does not have. */
export function ungroundedOptions(text: string, help: string): string[] {
  const known = new Set(help.match(OPTION) ?? []);
  return [...new Set(text.match(OPTION) ?? [])].filter((o) => !known.has(o));
}

function usageSchema(help: string) {
  return z
    .object({
      usage: z.string().trim().min(1).max(4000),
      example: z.object({ args: z.array(z.string()).max(32), stdin: z.string().max(4000).optional() }),
    })
    .superRefine((v, ctx) => {
      const bad = ungroundedOptions([v.usage, ...v.example.args].join("\n"), help);
      if (bad.length) ctx.addIssue({ code: "custom", message: `these options are not in the --help output: ${bad.join(", ")}; use only options it lists` });
    });
}

/** The usage text: the LLM's notes and an example call, each checked against `help`. */
export async function writeUsage(llm: LlmProvider, help: string, instructions: string, opts: UsageOptions = {}): Promise<string> {
  const tool = opts.toolName ?? "the tool";
  const { value } = await askJson(llm, {
    system: renderPrompt("usage", "system"),
    messages: [
      {
        role: "user",
        content: renderPrompt("usage", "user", {
          tool: JSON.stringify(tool),
          instructions: fence("instructions", instructions),
          help: fence("--help output", help),
        }),
      },
    ],
    schema: usageSchema(help),
    meter: opts.meter ?? new LlmMeter(llm),
    maxTokens: 1500,
    signal: opts.signal,
  });
  const example = JSON.stringify({ args: value.example.args, ...(value.example.stdin !== undefined ? { stdin: value.example.stdin } : {}) });
  return `${value.usage}\n\nExample: ${tool} ${example}`;
}
