// The two kinds of expected failure. Both carry a message that says what was wrong and
// what to do; anything else thrown is a bug.
import type { Stage } from "./craft.js";

/** A failure the caller can fix: reported as an isError result / a non-zero exit. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** An expected failure of a pipeline stage. */
export class CraftError extends Error {
  constructor(
    readonly stage: Stage,
    message: string,
  ) {
    super(message);
    this.name = "CraftError";
  }
}
