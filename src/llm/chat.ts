// What the chat-completions providers (Groq, OpenAI-compatible) share.
import { redactSecrets } from "../exec/env.js";
import type { Completion, CompletionRequest, LlmProvider } from "./provider.js";

/** A fixed seed, so that providers which honour it answer the same prompt the same way. */
export const SEED = 7;

export function toChatMessages(req: CompletionRequest): { role: "system" | "user" | "assistant"; content: string }[] {
  return [{ role: "system", content: req.system }, ...req.messages.map((m) => ({ role: m.role, content: m.content }))];
}

/** An LLM call failed: a plain Error naming the provider, with every secret removed. */
export class LlmCallError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "LlmCallError";
  }
}

export function providerError(provider: string, err: unknown, secrets: string[]): Error {
  if (err instanceof Error && err.name === "AbortError") return err;
  const e = err as { status?: number; message?: string; name?: string };
  if (e?.name === "APIUserAbortError") {
    const abort = new Error("the LLM call was cancelled");
    abort.name = "AbortError";
    return abort;
  }
  let text = String(e?.message ?? err);
  for (const s of secrets) if (s) text = text.split(s).join("[redacted]");
  text = redactSecrets(text);
  const status = typeof e?.status === "number" ? e.status : undefined;
  const hint =
    status === 401 || status === 403
      ? " (the key was refused: check it)"
      : status === 429
        ? " (rate limited: wait and retry, or use another model)"
        : status === undefined
          ? " (is the endpoint reachable?)"
          : "";
  return new LlmCallError(`${provider} call failed${status ? ` with HTTP ${status}` : ""}: ${text}${hint}`, status);
}

/**
 * Groq answers HTTP 400 `json_validate_failed` when the model's output in JSON mode was not
 * JSON: that is a bad answer to retry, not a failed call. Returns the model's text then.
 */
export function failedJsonGeneration(err: unknown): string | undefined {
  const e = err as { status?: number; error?: { code?: string; failed_generation?: string; error?: { code?: string; failed_generation?: string } } };
  if (e?.status !== 400) return undefined;
  const body = e.error?.error ?? e.error;
  return body?.code === "json_validate_failed" ? (body.failed_generation ?? "") : undefined;
}

/** What both chat-completions SDKs (groq-sdk, openai) answer, as far as we read it. */
/** The chat request both OpenAI-style clients take; they differ only in the token limit's name. */
export function chatRequest(model: string, req: CompletionRequest) {
  return {
    model,
    messages: toChatMessages(req),
    temperature: 0,
    seed: SEED,
    ...(req.json ? { response_format: { type: "json_object" as const } } : {}),
  };
}

export interface ChatCompletionAnswer {
  choices: { message?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/**
 * A provider over one SDK's chat-completions call: timing, token counts, a JSON answer the
 * provider refused (Groq's json_validate_failed) handed back for a retry, and errors with
 * the secrets removed.
 */
export function chatCompletionProvider(opts: {
  name: LlmProvider["name"];
  label: string;
  model: string;
  secrets: string[];
  create: (req: CompletionRequest) => Promise<ChatCompletionAnswer>;
}): LlmProvider {
  return {
    name: opts.name,
    model: opts.model,
    async complete(req: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const ms = () => Math.round(performance.now() - started);
      try {
        const res = await opts.create(req);
        return {
          text: res.choices[0]?.message?.content ?? "",
          promptTokens: res.usage?.prompt_tokens ?? 0,
          completionTokens: res.usage?.completion_tokens ?? 0,
          ms: ms(),
        };
      } catch (err) {
        const failed = failedJsonGeneration(err);
        if (failed !== undefined) return { text: failed, promptTokens: 0, completionTokens: 0, ms: ms() };
        throw providerError(opts.label, err, opts.secrets);
      }
    },
  };
}
