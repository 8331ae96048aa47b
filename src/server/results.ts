// Building CallToolResults: structured content plus a short text block.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export function result(structured: Record<string, unknown>, text: string, isError = false): CallToolResult {
  return {
    content: [{ type: "text", text }],
    structuredContent: structured,
    ...(isError ? { isError: true } : {}),
  };
}

export function errorResult(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}
