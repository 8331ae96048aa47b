// A crafted service as an MCP tool: each call is one HTTP request to the service's own
// loopback address (see service/http.ts for what keeps it there).
import { z } from "zod";
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Flakebot } from "../app.js";
import type { Craft } from "../craft/types.js";
import { describeCrafted } from "../craft/definition.js";
import { BODY_CAP_BYTES, HTTP_METHODS, MAX_PATH_CHARS, type ServiceResponse } from "../service/http.js";
import { MAX_TIMEOUT_MS } from "../exec/invoke.js";
import { result } from "./results.js";
import { asToolError } from "./errors.js";

export const serviceInputShape = {
  method: z.enum(HTTP_METHODS).optional().describe("The HTTP method (default GET)"),
  path: z.string().min(1).max(MAX_PATH_CHARS).describe('The request path and query, starting with a single "/" (e.g. "/kv/name?x=1"); never a full URL'),
  headers: z.record(z.string(), z.string().max(8192)).optional().describe("Request headers (Host, Content-Length and Connection are set by Flakebot)"),
  body: z.string().max(16 * 1024 * 1024).optional().describe("The request body, as text"),
  timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional().describe("Give up after this many milliseconds (default 30000)"),
};

export const serviceOutputShape = {
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
  truncated: z.boolean(),
  duration_ms: z.number(),
};

function responseText(r: ServiceResponse): string {
  const type = r.headers["content-type"] ? ` (${r.headers["content-type"]})` : "";
  const more = r.truncated ? `\n[body truncated at ${BODY_CAP_BYTES} bytes]` : "";
  return `HTTP ${r.status}${type} in ${r.duration_ms} ms\n${r.body}${more}`;
}

export function registerServiceTool(server: McpServer, app: Flakebot, craft: Craft): RegisteredTool {
  return server.registerTool(
    craft.name,
    {
      title: `${craft.target?.bin ?? craft.name} (crafted service)`,
      description: craft.tool_description ?? describeCrafted(craft),
      inputSchema: serviceInputShape,
      outputSchema: serviceOutputShape,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
      _meta: { "flakebot/definition_sha256": craft.definition_sha256 },
    },
    async (args, extra) => {
      try {
        const out = await app.serviceRequest(craft.name, args, extra.signal);
        return result({ ...out }, responseText(out));
      } catch (err) {
        return asToolError(err);
      }
    },
  );
}
