// One interface for every LLM: Groq, an OpenAI-compatible endpoint, the client's own
// model through MCP sampling. With FLAKEBOT_LLM=none there is no provider at all.

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
}

export interface CompletionRequest {
  system: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** Ask for a JSON object answer (the provider's JSON mode where it has one). */
  json: boolean;
  signal?: AbortSignal;
  /** Cut the request off sooner than FLAKEBOT_LLM_TIMEOUT (a budget running out). */
  timeoutMs?: number;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
  ms: number;
}

export interface LlmProvider {
  readonly name: "groq" | "openai" | "sampling";
  readonly model?: string;
  complete(req: CompletionRequest): Promise<Completion>;
}
