// Groq through groq-sdk. The key stays inside the client: errors are rewritten so that
// neither the key nor the request headers reach a log or a result.
import type Groq from "groq-sdk";
import { DEFAULT_GROQ_MODEL, type Config } from "../config.js";
import type { LlmProvider } from "./provider.js";
import { chatCompletionProvider, chatRequest } from "./chat.js";

export function createGroqProvider(config: Pick<Config, "groq" | "model">): LlmProvider {
  const apiKey = config.groq.apiKey;
  if (!apiKey) throw new Error("Groq needs GROQ_API_KEY: set it, or choose another provider with FLAKEBOT_LLM");
  // groq-sdk is loaded on the first call, not at every server start.
  let client: Groq | undefined;
  const getClient = async () => (client ??= new (await import("groq-sdk")).default({ apiKey, baseURL: config.groq.baseUrl, maxRetries: 2, timeout: 180_000 }));
  const model = config.model ?? DEFAULT_GROQ_MODEL;
  return chatCompletionProvider({
    name: "groq",
    label: "Groq",
    model,
    secrets: [apiKey],
    create: async (req) =>
      (await getClient()).chat.completions.create({ ...chatRequest(model, req), max_completion_tokens: req.maxTokens }, { signal: req.signal }),
  });
}
