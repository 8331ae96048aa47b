// The crafted service tool's HTTP client. It reaches only http://127.0.0.1:<port>: the URL
// is the fixed origin plus a path that must start with a single "/", the connection goes to
// that address whatever the path says, and redirects are returned, never followed.
import http from "node:http";
import { LOOPBACK } from "./port.js";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const BODY_CAP_BYTES = 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const MAX_PATH_CHARS = 8192;

export interface ServiceRequest {
  method?: HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  timeout_ms?: number;
}

export interface ServiceResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
  duration_ms: number;
}

/** A request the tool refuses to send: the message says what to change. */
export class RequestRefused extends Error {
  override name = "RequestRefused";
}

/** Headers the client sets itself: the caller may not point Host elsewhere or frame the body. */
const OWN_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "expect", "upgrade", "keep-alive", "te", "trailer", "proxy-connection"]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The request target (path and query) for `path` on `origin`, or a RequestRefused. */
export function requestTarget(origin: string, path: string): string {
  if (path.length > MAX_PATH_CHARS) throw new RequestRefused(`path is longer than ${MAX_PATH_CHARS} characters`);
  if (!path.startsWith("/") || path.startsWith("//")) {
    throw new RequestRefused(`path must start with a single "/" (like "/kv/x"), not "${path.slice(0, 80)}": the tool reaches only its own service at ${origin}`);
  }
  // Control characters, spaces and backslashes would let a path re-frame the request or be
  // read as another authority by a lenient parser.
  if (/[\u0000-\u0020\u007f\\]/.test(path)) throw new RequestRefused("path may not contain spaces, control characters or backslashes: percent-encode them");
  const url = new URL(path, origin);
  if (url.origin !== origin) throw new RequestRefused(`path "${path.slice(0, 80)}" would leave ${origin}`);
  return url.pathname + url.search;
}

function headersFrom(input: Record<string, string> | undefined, port: number, body: Buffer | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input ?? {})) {
    if (!HEADER_NAME.test(name)) throw new RequestRefused(`"${name.slice(0, 60)}" is not a valid header name`);
    if (/[\r\n\u0000]/.test(value)) throw new RequestRefused(`header "${name}" contains a line break`);
    if (OWN_HEADERS.has(name.toLowerCase())) continue;
    out[name] = value;
  }
  out.Host = `${LOOPBACK}:${port}`;
  out.Connection = "close";
  if (body) out["Content-Length"] = String(body.length);
  return out;
}

function flatHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(name === "set-cookie" ? "\n" : ", ") : value;
  }
  return out;
}

/** Sends one request to the service on 127.0.0.1:port. Network failures reject. */
export function sendServiceRequest(port: number, input: ServiceRequest, signal?: AbortSignal): Promise<ServiceResponse> {
  const origin = `http://${LOOPBACK}:${port}`;
  const target = requestTarget(origin, input.path);
  const method = input.method ?? "GET";
  // A GET may carry a body (some search APIs take their query so); a HEAD may not.
  const body = input.body !== undefined && method !== "HEAD" ? Buffer.from(input.body, "utf8") : undefined;
  const headers = headersFrom(input.headers, port, body);
  const timeout = input.timeout_ms ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const req = http.request({ host: LOOPBACK, port, method, path: target, headers, agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      const finish = () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: flatHeaders(res.headers),
          body: Buffer.concat(chunks).toString("utf8"),
          truncated,
          duration_ms: Math.round(performance.now() - started),
        });
      };
      res.on("data", (chunk: Buffer) => {
        if (truncated) return;
        const take = chunk.subarray(0, BODY_CAP_BYTES - kept);
        chunks.push(take);
        kept += take.length;
        if (take.length < chunk.length) {
          truncated = true;
          finish();
          res.destroy();
        }
      });
      res.on("end", () => truncated || finish());
      res.on("error", (err) => (truncated ? undefined : reject(err)));
    });
    timer = setTimeout(() => {
      const err = new Error(`no complete response within ${timeout} ms`);
      reject(err); // also when the body had begun: the response's own events may not say so
      req.destroy(err);
    }, timeout);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
