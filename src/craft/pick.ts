// select: with an LLM, it chooses among the ranked crates.io candidates; without one the
// ranking's first stands.
import type { PickFn } from "./stages/discover.js";
import { chooseCandidate } from "../llm/choose.js";

export const llmPick: PickFn = async (ranked, ctx) => {
  if (!ctx.llm) return undefined;
  ctx.progress("the LLM is choosing among the candidates");
  const choice = await chooseCandidate(
    ctx.llm,
    {
      instructions: ctx.request.instructions,
      candidates: ranked.map((c) => ({ name: c.name, version: c.version, downloads: c.downloads, description: c.description, repository: c.repository })),
    },
    { signal: ctx.signal },
  );
  return { name: choice.name, reason: choice.reason };
};
