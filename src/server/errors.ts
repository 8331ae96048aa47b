import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { UserError } from "../model/errors.js";
import { errorResult } from "./results.js";

/** Expected failures become isError results; anything else is a bug and is rethrown. */
export function asToolError(err: unknown): CallToolResult {
  if (err instanceof UserError) return errorResult(err.message);
  throw err;
}
