// What every pipeline stage receives. A stage is a plain async function
// `(ctx, craft) => Promise<Partial<Craft>>`: it reads what is known so far and returns
// the new piece of the record. It never touches the MCP server.
import type { Config } from "../config.js";
import type { ToolPaths } from "../state/paths.js";
import type { Craft, CraftRequest } from "../model/craft.js";
import type { LlmProvider } from "../llm/provider.js";
import type { Backend } from "../backends/backend.js";

export interface StageContext {
  config: Config;
  paths: ToolPaths;
  request: CraftRequest;
  /** Aborted when the craft is cancelled (dispose) or the server shuts down. */
  signal: AbortSignal;
  /** Appends a line to the tool's build log (and the live log tail). */
  log(line: string): void;
  /** Reports progress within the current stage (shown to waiting clients). */
  progress(message: string): void;
  // Per-craft settings, decided once when the craft starts (app.ts) and read by the stages.
  /** Crate code (cargo build/test) and the built binary run under the sandbox (bwrap present and on). */
  sandboxed?: boolean;
  /** Packages the tested build; cargo when absent. */
  backend?: Backend;
  /** Packages it instead, flagged, when `backend` fails (FLAKEBOT_BACKEND=auto). */
  fallback?: Backend;
  /** The LLM, when one is configured; stages that need one say so clearly without. */
  llm?: LlmProvider;
  /**
   * Runs a build (cargo, nix) in one of FLAKEBOT_MAX_BUILDS slots, waiting for one when all
   * are taken. Held only while building: never while waiting for the model.
   */
  buildSlot?: <T>(task: () => Promise<T>) => Promise<T>;
}

/** Runs `task` in a build slot when the context has slots, else at once. */
export function inBuildSlot<T>(ctx: StageContext, task: () => Promise<T>): Promise<T> {
  return ctx.buildSlot ? ctx.buildSlot(task) : task();
}

export type StageFn = (ctx: StageContext, craft: Craft) => Promise<Partial<Craft>>;
