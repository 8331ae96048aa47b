// A crafted service as an MCP tool: each call is one HTTP request to the service's own
// loopback address (see service/http.ts for what keeps it there).
import { z } from "zod";
import type { RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RegisterTool } from "./tool-list.js";
import type { Flakebot } from "../app.js";
import type { Craft } from "../model/craft.js";
import { describeCrafted } from "../schema/definition.js";
import { BODY_CAP_BYTES, type ServiceResponse } from "../service/http.js";
import { serviceInputShape } from "../service/shape.js";
import { result } from "./results.js";
import { asToolError } from "./errors.js";

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

export function registerServiceTool(registerTool: RegisterTool, app: Flakebot, craft: Craft): RegisteredTool {
  return registerTool(
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
