// Any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, OpenAI itself) through
// the `openai` package. Local servers need no key; the client insists on one, so a
// placeholder goes in its place.
import type OpenAI from "openai";
import type { Config } from "../config.js";
import type { LlmProvider } from "./provider.js";
import { chatCompletionProvider, chatRequest } from "./chat.js";

const KEYLESS = "no-key";

export function createOpenAiProvider(config: Pick<Config, "openai" | "model">): LlmProvider {
  const { baseUrl, apiKey } = config.openai;
  if (!baseUrl && !apiKey) {
    throw new Error("the OpenAI-compatible provider needs OPENAI_BASE_URL (a local server such as Ollama) or OPENAI_API_KEY");
  }
  if (!config.model) {
    throw new Error("the OpenAI-compatible provider needs a model name: set FLAKEBOT_MODEL (for example the model your server has loaded)");
  }
  // The openai package is loaded on the first call, not at every server start.
  let client: OpenAI | undefined;
  const getClient = async () => (client ??= new (await import("openai")).default({ apiKey: apiKey ?? KEYLESS, baseURL: baseUrl, maxRetries: 2, timeout: 300_000 }));
  const model = config.model;
  return chatCompletionProvider({
    name: "openai",
    label: "the OpenAI-compatible endpoint",
    model,
    secrets: apiKey ? [apiKey] : [],
    create: async (req) =>
      (await getClient()).chat.completions.create({ ...chatRequest(model, req), max_tokens: req.maxTokens }, { signal: req.signal }),
  });
}
