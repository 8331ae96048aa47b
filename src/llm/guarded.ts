// Every LLM request goes through here: what is sent has every secret of the server's
// environment removed (a test's output may carry one, with the sandbox off), and the
// request is cut off after FLAKEBOT_LLM_TIMEOUT (or a shorter time the caller gives) with
// a message that says so, whatever the SDK's own timeouts and retries would do.
import { redactSecrets } from "../exec/env.js";
import { LlmCallError } from "./chat.js";
import type { CompletionRequest, LlmProvider } from "./provider.js";

/** The model did not answer in time. */
export class LlmTimeoutError extends LlmCallError {
  constructor(
    readonly seconds: number,
    why: string,
  ) {
    super(`the model did not answer within ${seconds} s (${why})`);
    this.name = "LlmTimeoutError";
  }
}

export function guardProvider(inner: LlmProvider, timeoutMs: number): LlmProvider {
  return {
    name: inner.name,
    get model() {
      return inner.model;
    },
    async complete(req: CompletionRequest) {
      const ms = Math.max(1, Math.min(req.timeoutMs ?? timeoutMs, timeoutMs));
      const timer = AbortSignal.timeout(ms);
      const signal = req.signal ? AbortSignal.any([req.signal, timer]) : timer;
      const clean: CompletionRequest = {
        ...req,
        system: redactSecrets(req.system),
        messages: req.messages.map((m) => ({ ...m, content: redactSecrets(m.content) })),
        signal,
      };
      try {
        return await inner.complete(clean);
      } catch (err) {
        if (timer.aborted && !req.signal?.aborted) {
          const why = ms < timeoutMs ? "the rest of the modify budget, FLAKEBOT_MODIFY_BUDGET" : "FLAKEBOT_LLM_TIMEOUT";
          throw new LlmTimeoutError(Math.round(ms / 1000), why);
        }
        throw err;
      }
    },
  };
}
