// The MCP client's own model, through sampling/createMessage. The server passes in a
// function that sends the request (`(params, options) => server.server.createMessage(params, options)`),
// so this module never touches the MCP server itself.
import type { CreateMessageRequestParamsBase, CreateMessageResult } from "@modelcontextprotocol/sdk/types.js";
import type { Completion, CompletionRequest, LlmProvider } from "./provider.js";

export type CreateMessageFn = (
  params: CreateMessageRequestParamsBase,
  options?: { signal?: AbortSignal; timeout?: number },
) => Promise<CreateMessageResult>;

/** Sampling has no JSON mode: the instruction goes into the system prompt instead. */
const JSON_ONLY = "\n\nAnswer with a single JSON object and nothing else: no prose, no code fence.";

function textOf(result: CreateMessageResult): string {
  const blocks = (Array.isArray(result.content) ? result.content : [result.content]) as { type: string; text?: string }[];
  return blocks
    .filter((b) => b.type === "text")
    .map((b) => b.text ?? "")
    .join("");
}

/** Rough token count (about four characters a token): sampling results carry no usage. */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function createSamplingProvider(createMessage: CreateMessageFn, preferredModel?: string): LlmProvider {
  let lastModel: string | undefined = preferredModel;
  return {
    name: "sampling",
    get model() {
      return lastModel;
    },
    async complete(req: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const system = req.json ? req.system + JSON_ONLY : req.system;
      const result = await createMessage(
        {
          systemPrompt: system,
          messages: req.messages.map((m) => ({ role: m.role, content: { type: "text" as const, text: m.content } })),
          maxTokens: req.maxTokens,
          temperature: 0,
          includeContext: "none",
          ...(preferredModel ? { modelPreferences: { hints: [{ name: preferredModel }], intelligencePriority: 1 } } : {}),
        },
        // Sampling waits on the client's model (sometimes a person approving it): allow minutes.
        { signal: req.signal, timeout: 600_000 },
      );
      lastModel = result.model || lastModel;
      const text = textOf(result);
      return {
        text,
        promptTokens: estimateTokens(system + req.messages.map((m) => m.content).join("")),
        completionTokens: estimateTokens(text),
        ms: Math.round(performance.now() - started),
      };
    },
  };
}
