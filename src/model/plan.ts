// What the plan stage learns from the instructions alone, before any code is seen.
import type { AcceptanceTest } from "./craft.js";

export interface Plan {
  /** crates.io search queries, best first. */
  queries: string[];
  /** The behaviour the tool must have, in a few sentences. */
  behaviour: string;
  /** A suggested MCP tool name (`^[a-z][a-z0-9_]{0,47}$`). */
  tool_name?: string;
  /** Whether an existing crate is likely to do this without changes. */
  crate_alone_enough: boolean;
  /** Checks of the finished binary, written from the instructions alone. */
  acceptance: AcceptanceTest[];
  /** "llm" when an LLM wrote the plan, "keywords" when it was derived without one. */
  source: "llm" | "keywords";
}

/** What the modify stage did, beyond the test counts and LLM usage in the Craft. */
export interface ModifyReport {
  /** LLM answers that were applied and checked (reads of files do not count). */
  rounds: number;
  /** Commits made on the tool's branch, one per accepted round. */
  commits: string[];
  /** Passing Rust tests before the change and after it. */
  tests_old: number;
  tests_new: number;
  /** Files the accepted change touched. */
  changed_files: string[];
  /** False when the acceptance tests already passed on the upstream binary and nothing changed. */
  needed_change?: boolean;
}
