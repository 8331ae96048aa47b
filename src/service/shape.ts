// The input of a crafted service's MCP tool: one HTTP request to the service's own address.
import { z } from "zod";
import { HTTP_METHODS, MAX_PATH_CHARS } from "./http.js";
import { MAX_TIMEOUT_MS, STDIN_MAX_CHARS } from "../exec/invoke.js";

export const serviceInputShape = {
  method: z.enum(HTTP_METHODS).optional().describe("The HTTP method (default GET)"),
  path: z.string().min(1).max(MAX_PATH_CHARS).describe('The request path and query, starting with a single "/" (e.g. "/kv/name?x=1"); never a full URL'),
  headers: z.record(z.string(), z.string().max(8192)).optional().describe("Request headers (Host, Content-Length and Connection are set by Flakebot)"),
  body: z.string().max(STDIN_MAX_CHARS).optional().describe("The request body, as text (at most 8 MiB)"),
  timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional().describe("Give up after this many milliseconds (default 30000)"),
};

