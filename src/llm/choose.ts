// Choosing among ranked crates.io candidates with the LLM (the discover stage calls this
// when an LLM is configured; without one it keeps its own ranking).
import { z } from "zod";
import type { LlmProvider } from "./provider.js";
import { askJson, LlmMeter } from "./structured.js";
import { fence, fenceJson, renderPrompt } from "./prompts.js";

export interface CandidateForLlm {
  name: string;
  version: string;
  downloads: number;
  description?: string;
  repository?: string;
}

export interface Choice {
  name: string;
  reason: string;
  alone_enough: boolean;
}

export async function chooseCandidate(
  llm: LlmProvider,
  input: { instructions: string; behaviour?: string; candidates: CandidateForLlm[] },
  opts: { meter?: LlmMeter; signal?: AbortSignal } = {},
): Promise<Choice> {
  if (input.candidates.length === 0) throw new Error("chooseCandidate: no candidates");
  const names = new Set(input.candidates.map((c) => c.name));
  const schema = z.object({
    name: z.string().refine((n) => names.has(n), { message: `must be one of: ${[...names].join(", ")}` }),
    reason: z.string().trim().min(1).max(1000),
    alone_enough: z.boolean(),
  });
  const { value } = await askJson(llm, {
    system: renderPrompt("select", "system"),
    messages: [
      {
        role: "user",
        content: renderPrompt("select", "user", {
          instructions: fence("instructions", input.instructions),
          behaviour: fence("planned behaviour", input.behaviour ?? input.instructions),
          candidates: fenceJson("candidates", input.candidates),
        }),
      },
    ],
    schema,
    meter: opts.meter ?? new LlmMeter(llm),
    maxTokens: 800,
    signal: opts.signal,
  });
  return value;
}
