// The one craft request schema: the MCP tool and the command line both validate with it,
// so a request means the same and has the same limits whichever way it arrives.
import { z } from "zod";
import { NAME_PATTERN } from "./names.js";

/** The fields of a craft request, as a zod raw shape (the MCP SDK takes one). */
export const craftRequestShape = {
  instructions: z.string().min(1).max(20000).describe("What the tool must do, in plain words"),
  name: z.string().regex(NAME_PATTERN).optional().describe("The MCP tool name to register (lowercase, digits, underscores); derived from the crate or binary when absent"),
  crate: z.string().min(1).max(64).optional().describe("Start from this crates.io crate (skips discovery)"),
  source: z.string().min(1).max(4096).optional().describe("Start from a local directory or a git URL (https, ssh, file)"),
  rev: z.string().min(1).max(256).optional().describe("Git revision (branch, tag or commit) of `source`"),
  package: z.string().min(1).max(128).optional().describe("Which workspace package to build"),
  bin: z.string().min(1).max(128).optional().describe("Which binary target to expose"),
  features: z
    .array(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_+./-]{0,127}$/, "a Cargo feature name (letters, digits, _ - + . /)"))
    .max(64)
    .optional()
    .describe("Cargo features to enable; the chosen binary's required-features are enabled without being named"),
  modify: z.enum(["auto", "never", "always"]).default("auto").describe("Whether the LLM may change the code"),
  allow_test_changes: z
    .array(z.string().min(1).max(200))
    .max(100)
    .optional()
    .describe("Names of upstream tests the LLM may rewrite (default none: upstream test code is read-only to the LLM)"),
  kind: z.enum(["command", "service"]).default("command").describe("A command runs once per call; a service is a long-running program Flakebot supervises"),
};

export const CraftRequestSchema = z.object(craftRequestShape);

export type CraftRequest = z.output<typeof CraftRequestSchema>;
export type ToolKind = CraftRequest["kind"];

/**
 * What a schema cannot say: problems with a request that passed it. Returns a message
 * that says what to change, or undefined.
 */
export function requestProblem(request: CraftRequest): string | undefined {
  if (!request.instructions.trim()) return "instructions are empty: say in plain words what the tool must do";
  if (request.rev?.startsWith("-")) return `"rev" must be a branch, tag or commit, not an option: "${request.rev.slice(0, 60)}"`;
  return undefined;
}

/** Validates a request from outside (the command line); the message lists every problem. */
export function parseCraftRequest(input: unknown): { request: CraftRequest } | { problem: string } {
  const parsed = CraftRequestSchema.safeParse(input);
  if (!parsed.success) {
    return { problem: parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ") };
  }
  const problem = requestProblem(parsed.data);
  return problem ? { problem } : { request: parsed.data };
}
