// Which LLM a craft uses: FLAKEBOT_LLM, the keys that are set, and what the MCP client offers.
import type { Config } from "../config.js";
import { guardProvider } from "./guarded.js";
import type { LlmProvider } from "./provider.js";
import { createGroqProvider } from "./groq.js";
import { createOpenAiProvider } from "./openai.js";
import { createSamplingProvider, type CreateMessageFn } from "./sampling.js";

export interface ClientLlm {
  /** Present only when the connected client declared the sampling capability. */
  sampling?: CreateMessageFn;
}

export type ProviderKind = "groq" | "openai" | "sampling" | "none";

/** The provider kind the configuration and client lead to (`auto` resolved). */
export function providerKind(config: Pick<Config, "llm" | "groq" | "openai">, client: ClientLlm = {}): ProviderKind {
  if (config.llm !== "auto") return config.llm;
  if (config.groq.apiKey) return "groq";
  if (config.openai.baseUrl) return "openai";
  if (client.sampling) return "sampling";
  return "none";
}

/**
 * The LLM for a craft, or undefined for `none`: every request through it has the server's
 * secrets removed and is cut off after FLAKEBOT_LLM_TIMEOUT (llm/guarded.ts). Throws an
 * Error saying what to set when FLAKEBOT_LLM names a provider that cannot be used.
 */
export function selectProvider(
  config: Pick<Config, "llm" | "groq" | "openai" | "model" | "llmTimeoutMs">,
  client: ClientLlm = {},
): LlmProvider | undefined {
  const provider = unguardedProvider(config, client);
  return provider && guardProvider(provider, config.llmTimeoutMs);
}

function unguardedProvider(config: Pick<Config, "llm" | "groq" | "openai" | "model">, client: ClientLlm): LlmProvider | undefined {
  const kind = providerKind(config, client);
  switch (kind) {
    case "groq":
      return createGroqProvider(config);
    case "openai":
      return createOpenAiProvider(config);
    case "sampling":
      if (!client.sampling) {
        throw new Error("FLAKEBOT_LLM=sampling but this MCP client does not offer sampling: use a client that does, or set GROQ_API_KEY or OPENAI_BASE_URL");
      }
      return createSamplingProvider(client.sampling, config.model);
    case "none":
      return undefined;
  }
}
