// plan: from the instructions alone, before any code is seen: search queries, the required
// behaviour, a tool name, whether a crate alone is likely enough, and acceptance tests.
// With an LLM it asks for all of that; without one it derives queries from keywords.ts,
// writes no acceptance tests and assumes the crate alone is enough.
import { z } from "zod";
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import type { Plan } from "../../model/plan.js";
import { askJson, LlmMeter } from "../../llm/structured.js";
import { fence, renderPrompt } from "../../llm/prompts.js";
import type { LlmProvider } from "../../llm/provider.js";
import type { AcceptanceTest, Craft } from "../../model/craft.js";
import { queriesFromInstructions } from "../../discovery/keywords.js";

const TOOL_NAME = /^[a-z][a-z0-9_]{0,47}$/;

function isRegex(pattern: string): boolean {
  try {
    new RegExp(pattern, "m");
    return true;
  } catch {
    return false;
  }
}

export const AcceptanceTestSchema = z.object({
  name: z.string().min(1).max(120),
  args: z.array(z.string().max(4000)).max(32).default([]),
  stdin: z.string().max(64_000).optional(),
  expect_exit: z.number().int().min(0).max(255).optional(),
  expect_stdout: z
    .array(z.string().min(1).max(500).refine(isRegex, { message: "not a valid JavaScript regular expression" }))
    .max(8)
    .optional(),
});

export const PlanAnswerSchema = z.object({
  queries: z.array(z.string().trim().min(1).max(80)).min(1).max(5),
  behaviour: z.string().trim().min(1).max(2000),
  // A bad name is dropped, not argued over: the name can come from the crate instead.
  tool_name: z
    .string()
    .optional()
    .transform((n) => (n && TOOL_NAME.test(n) ? n : undefined)),
  crate_alone_enough: z.boolean(),
  acceptance: z.array(AcceptanceTestSchema).max(8).default([]),
});

export function keywordPlan(instructions: string): Plan {
  const queries = queriesFromInstructions(instructions);
  return {
    queries: queries.length ? queries : [instructions.trim().slice(0, 60)],
    behaviour: instructions.trim(),
    crate_alone_enough: true,
    acceptance: [],
    source: "keywords",
  };
}

export async function llmPlan(llm: LlmProvider, instructions: string, meter: LlmMeter, signal?: AbortSignal): Promise<Plan> {
  const { value } = await askJson(llm, {
    system: renderPrompt("plan", "system"),
    messages: [{ role: "user", content: renderPrompt("plan", "user", { instructions: fence("instructions", instructions) }) }],
    schema: PlanAnswerSchema,
    meter,
    maxTokens: 2048,
    signal,
  });
  const acceptance: AcceptanceTest[] = value.acceptance.map((t) => ({
    name: t.name,
    args: t.args,
    ...(t.stdin !== undefined ? { stdin: t.stdin } : {}),
    ...(t.expect_exit !== undefined ? { expect_exit: t.expect_exit } : {}),
    ...(t.expect_stdout?.length ? { expect_stdout: t.expect_stdout } : {}),
  }));
  return {
    queries: value.queries,
    behaviour: value.behaviour,
    ...(value.tool_name ? { tool_name: value.tool_name } : {}),
    crate_alone_enough: value.crate_alone_enough,
    acceptance,
    source: "llm",
  };
}

export const plan: StageFn = async (ctx) => {
  const instructions = ctx.request.instructions;
  if (!ctx.llm) {
    const p = keywordPlan(instructions);
    ctx.log(`plan: no LLM; searching for ${p.queries.map((q) => JSON.stringify(q)).join(", ")}`);
    return { plan: p } as Partial<Craft>;
  }
  ctx.progress("planning with the LLM");
  const meter = new LlmMeter(ctx.llm);
  let p: Plan;
  try {
    p = await llmPlan(ctx.llm, instructions, meter, ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new CraftError(
      "plan",
      `planning with the LLM failed: ${(err as Error).message}. Retry, check the LLM settings (FLAKEBOT_LLM, FLAKEBOT_MODEL), or set FLAKEBOT_LLM=none to craft without an LLM`,
    );
  }
  ctx.log(
    `plan: queries ${p.queries.map((q) => JSON.stringify(q)).join(", ")}; crate alone enough: ${p.crate_alone_enough}; ${p.acceptance.length} acceptance test(s)`,
  );
  return { plan: p, acceptance: p.acceptance, llm: meter.usage(0) } as Partial<Craft>;
};
