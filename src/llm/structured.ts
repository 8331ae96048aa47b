// Structured answers: the LLM answers with one JSON object, checked against a zod schema.
// An answer that is not JSON or does not fit is sent back with the exact problem, a
// bounded number of times; then the call fails with a clear message. Every call's tokens
// and time are added to a meter that ends up in the craft's result.
import { z } from "zod";
import type { ChatMessage, Completion, LlmProvider } from "./provider.js";
import type { LlmUsage } from "../model/craft.js";

export class LlmMeter {
  promptTokens = 0;
  completionTokens = 0;
  ms = 0;
  calls = 0;
  constructor(
    readonly provider: LlmProvider,
    start?: LlmUsage,
  ) {
    if (start) {
      this.promptTokens = start.prompt_tokens;
      this.completionTokens = start.completion_tokens;
      this.ms = start.llm_ms;
    }
  }
  add(c: Completion): void {
    this.calls += 1;
    this.promptTokens += c.promptTokens;
    this.completionTokens += c.completionTokens;
    this.ms += c.ms;
  }
  get totalTokens(): number {
    return this.promptTokens + this.completionTokens;
  }
  usage(rounds: number): LlmUsage {
    return {
      provider: this.provider.name,
      ...(this.provider.model ? { model: this.provider.model } : {}),
      rounds,
      prompt_tokens: this.promptTokens,
      completion_tokens: this.completionTokens,
      llm_ms: this.ms,
    };
  }
}

/** The LLM did not give a usable answer within the allowed attempts. */
export class StructuredAnswerError extends Error {
  constructor(
    message: string,
    readonly lastAnswer: string,
  ) {
    super(message);
    this.name = "StructuredAnswerError";
  }
}

export interface AskOptions<T> {
  system: string;
  /** The conversation so far; the last message is the question. */
  messages: ChatMessage[];
  schema: z.ZodType<T>;
  meter: LlmMeter;
  maxTokens?: number;
  /** Answers tried in all (the first and the retries). */
  attempts?: number;
  signal?: AbortSignal;
  /** Cut each request off sooner than FLAKEBOT_LLM_TIMEOUT. */
  timeoutMs?: number;
}

export interface Answer<T> {
  value: T;
  /** The raw text of the accepted answer (to keep in a conversation). */
  text: string;
}

/** Takes the JSON object out of an answer, tolerating a code fence or prose around it. */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const start = trimmed.indexOf("{");
    const end = trimmed.lastIndexOf("}");
    if (start < 0 || end <= start) throw new Error("the answer contains no JSON object");
    try {
      return JSON.parse(trimmed.slice(start, end + 1));
    } catch (err) {
      throw new Error(`the answer is not valid JSON: ${(err as Error).message}`);
    }
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 8)
    .map((i) => `${i.path.length ? i.path.join(".") : "(the answer)"}: ${i.message}`)
    .join("; ");
}

function check<T>(text: string, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; problem: string } {
  let data: unknown;
  try {
    data = extractJson(text);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) return { ok: false, problem: `the JSON does not fit the required shape: ${describeIssues(parsed.error)}` };
  return { ok: true, value: parsed.data };
}

const SNIPPET = 300;

export async function askJson<T>(llm: LlmProvider, opts: AskOptions<T>): Promise<Answer<T>> {
  const attempts = opts.attempts ?? 3;
  const messages = [...opts.messages];
  let problem = "";
  let text = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    opts.signal?.throwIfAborted();
    const completion = await llm.complete({
      system: opts.system,
      messages,
      maxTokens: opts.maxTokens ?? 4096,
      json: true,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
    });
    opts.meter.add(completion);
    text = completion.text;
    const result = check(text, opts.schema);
    if (result.ok) return { value: result.value, text };
    problem = result.problem;
    messages.push(
      { role: "assistant", content: text || "(empty answer)" },
      {
        role: "user",
        content: `That answer could not be used: ${problem}. Answer again with only the JSON object in the shape described above.`,
      },
    );
  }
  const shown = text.length > SNIPPET ? `${text.slice(0, SNIPPET)}...` : text;
  throw new StructuredAnswerError(
    `the LLM (${llm.name}${llm.model ? ` ${llm.model}` : ""}) gave no usable answer in ${attempts} attempts; the last problem: ${problem}; its last answer began: ${JSON.stringify(shown)}`,
    text,
  );
}
