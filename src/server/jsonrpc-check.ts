// What the SDK's stdio transport drops without a word: lines that are not JSON, messages
// that are not JSON-RPC, odd ids, and request params its handlers would later reject with
// a raw zod dump as -32603. Each gets the JSON-RPC error the spec names, with a short text.
import { ClientRequestSchema, JSONRPCMessageSchema, type JSONRPCMessage, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;

export interface ErrorResponse {
  jsonrpc: "2.0";
  id: RequestId | null;
  error: { code: number; message: string };
}

export type Checked = { message: JSONRPCMessage } | { reply: ErrorResponse } | { drop: string };

export function errorResponse(id: RequestId | null, code: number, message: string): ErrorResponse {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

const requestSchemas = new Map<string, z.ZodType>(
  (ClientRequestSchema as unknown as { options: z.ZodObject[] }).options.map((o) => [(o.shape.method as z.ZodLiteral).value as string, o]),
);

/** The id to answer with: the message's own when JSON-RPC allows it, else null. */
export function usableId(value: unknown): RequestId | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  return null;
}

/** "params.name: expected string, received number; ..." from zod issues. */
function readableIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "the message"}: ${i.message.replace(/^Invalid input: /, "")}`)
    .join("; ");
}

/** Checks one parsed JSON value that should be a single JSON-RPC message. */
export function checkMessage(value: unknown): Checked {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { reply: errorResponse(null, INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a JSON object") };
  }
  const obj = value as Record<string, unknown>;
  const isResponse = !("method" in obj) && ("result" in obj || "error" in obj);
  const parsed = JSONRPCMessageSchema.safeParse(value);
  if (!parsed.success) {
    // A malformed response has no one to answer to.
    if (isResponse) return { drop: `a malformed JSON-RPC response: ${readableIssues(parsed.error)}` };
    const why =
      "id" in obj && usableId(obj.id) === null
        ? "the id must be a string or an integer"
        : obj.jsonrpc !== "2.0"
          ? 'jsonrpc must be "2.0"'
          : typeof obj.method !== "string"
            ? "method must be a string"
            : readableIssues(parsed.error);
    return { reply: errorResponse(usableId(obj.id), INVALID_REQUEST, `Invalid Request: ${why}`) };
  }
  const message = parsed.data;
  if ("method" in message && "id" in message) {
    const schema = requestSchemas.get(message.method);
    const params = schema?.safeParse({ method: message.method, params: message.params });
    if (params && !params.success) {
      return { reply: errorResponse(message.id, INVALID_PARAMS, `Invalid params for ${message.method}: ${readableIssues(params.error)}`) };
    }
  }
  return { message };
}

/** Parses one line; a line that is not JSON is a parse error (id null, as the spec says). */
export function parseLine(line: string): { value: unknown } | { reply: ErrorResponse } {
  try {
    return { value: JSON.parse(line) };
  } catch (err) {
    return { reply: errorResponse(null, PARSE_ERROR, `Parse error: ${(err as Error).message}`) };
  }
}

/** The id of a message too large to parse, from its first and last bytes (the SDK puts it last). */
export function idOfOversized(head: string, tail: string): RequestId | null {
  const last = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,200}")\s*\}\s*$/.exec(tail);
  const first = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,200}")/.exec(head);
  const raw = last?.[1] ?? first?.[1];
  if (!raw) return null;
  try {
    return usableId(JSON.parse(raw));
  } catch {
    return null;
  }
}
