// The server's stdio transport. The SDK's closes itself on a message over 10 MiB (the
// server then exits, or goes deaf while a service keeps the process alive) and drops
// malformed JSON, batches and odd ids unanswered. This one answers each as JSON-RPC says,
// refuses requests before initialize, and keeps reading.
import process from "node:process";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { INVALID_REQUEST, checkMessage, errorResponse, idOfOversized, parseLine, type ErrorResponse } from "./jsonrpc-check.js";
import { log } from "../log.js";

/** The SDK's own stdio limit: clients built on it expect no more. */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** Protocol versions whose JSON-RPC allows batches (2025-06-18 removed them). */
const BATCH_VERSIONS = new Set(["2025-03-26"]);
const EDGE = 4096;

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const idKey = (id: RequestId) => `${typeof id}:${id}`;

interface Batch {
  waiting: Set<string>;
  replies: JSONRPCMessage[];
}

export class GuardedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private line: Buffer[] = [];
  private lineBytes = 0;
  private oversized?: { head: string; tail: Buffer; bytes: number };
  private initializeIds = new Set<string>();
  private initialized = false;
  private protocolVersion?: string;
  private batches: Batch[] = [];
  private closed = false;

  constructor(
    private readonly stdin: NodeJS.ReadableStream = process.stdin,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly maxMessageBytes = MAX_MESSAGE_BYTES,
  ) {}

  async start(): Promise<void> {
    this.stdin.on("data", this.ondata);
    this.stdin.on("error", this.onstreamerror);
    this.stdin.once("end", this.onend);
    this.stdin.once("close", this.onend);
  }

  private readonly onstreamerror = (err: Error) => this.onerror?.(err);
  private readonly onend = () => void this.close();

  private readonly ondata = (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      this.take(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  };

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.oversized) {
      this.oversized.bytes += piece.length;
      this.oversized.tail = Buffer.concat([this.oversized.tail, piece]).subarray(-EDGE);
      return;
    }
    if (this.lineBytes + piece.length <= this.maxMessageBytes) {
      this.line.push(piece);
      this.lineBytes += piece.length;
      return;
    }
    const all = Buffer.concat([...this.line, piece]);
    this.oversized = { head: all.subarray(0, EDGE).toString("utf8"), tail: all.subarray(-EDGE), bytes: all.length };
    this.line = [];
    this.lineBytes = 0;
  }

  private endLine(): void {
    if (this.oversized) {
      const { head, tail, bytes } = this.oversized;
      this.oversized = undefined;
      const text =
        `the message is ${MiB(bytes)}; Flakebot reads at most ${MiB(this.maxMessageBytes)} per JSON-RPC message. ` +
        `Send a large input as a file the tool can read (under one of the client's roots, or FLAKEBOT_SANDBOX_READ) and pass its path in args`;
      log.warn(`refused a ${MiB(bytes)} message: over the ${MiB(this.maxMessageBytes)} limit`);
      void this.write(errorResponse(idOfOversized(head, tail.toString("utf8")), INVALID_REQUEST, `Invalid Request: ${text}`));
      return;
    }
    const text = Buffer.concat(this.line).toString("utf8").replace(/\r$/, "");
    this.line = [];
    this.lineBytes = 0;
    if (text.trim() === "") return;
    const parsed = parseLine(text);
    if ("reply" in parsed) return void this.write(parsed.reply);
    if (Array.isArray(parsed.value)) return this.batch(parsed.value);
    const reply = this.deliver(parsed.value);
    if (reply) void this.write(reply);
  }

  /** Hands one message to the server, or returns the error it gets instead. */
  private deliver(value: unknown): ErrorResponse | undefined {
    const checked = checkMessage(value);
    if ("reply" in checked) return checked.reply;
    if ("drop" in checked) {
      log.warn(`ignored ${checked.drop}`);
      return undefined;
    }
    const message = checked.message;
    if ("method" in message && "id" in message) {
      if (message.method === "initialize") this.initializeIds.add(idKey(message.id));
      else if (!this.initialized && message.method !== "ping") {
        return errorResponse(message.id, INVALID_REQUEST, `Invalid Request: ${message.method} before initialize; send initialize first (then notifications/initialized)`);
      }
    }
    this.onmessage?.(message);
    return undefined;
  }

  private batch(values: unknown[]): void {
    const version = this.protocolVersion;
    if (!version || !BATCH_VERSIONS.has(version) || values.length === 0) {
      const why =
        values.length === 0
          ? "an empty batch"
          : !version
            ? "a batch before initialize (initialize is never batched): send each message on its own line"
            : `MCP ${version} has no JSON-RPC batches (2025-06-18 removed them): send each message on its own line`;
      return void this.write(errorResponse(null, INVALID_REQUEST, `Invalid Request: ${why}`));
    }
    const batch: Batch = { waiting: new Set(), replies: [] };
    this.batches.push(batch);
    for (const value of values) {
      const id = (value as { id?: unknown } | null)?.id;
      const isRequest = typeof value === "object" && value !== null && "method" in value && (typeof id === "string" || typeof id === "number");
      if (isRequest) batch.waiting.add(idKey(id as RequestId));
      const reply = this.deliver(value);
      if (reply) {
        if (isRequest) batch.waiting.delete(idKey(id as RequestId));
        batch.replies.push(reply as JSONRPCMessage);
      }
    }
    this.flushBatch(batch);
  }

  private flushBatch(batch: Batch): void {
    if (batch.waiting.size > 0) return;
    this.batches = this.batches.filter((b) => b !== batch);
    if (batch.replies.length > 0) void this.write(batch.replies);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if ("id" in message && ("result" in message || "error" in message)) {
      const key = idKey(message.id as RequestId);
      if (this.initializeIds.delete(key) && "result" in message) {
        this.initialized = true;
        this.protocolVersion = String((message.result as { protocolVersion?: unknown }).protocolVersion ?? "");
      }
      const batch = this.batches.find((b) => b.waiting.has(key));
      if (batch) {
        batch.waiting.delete(key);
        batch.replies.push(message);
        return this.flushBatch(batch);
      }
    }
    return this.write(message);
  }

  private write(message: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.stdout.write(JSON.stringify(message) + "\n")) resolve();
      else this.stdout.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off("data", this.ondata);
    this.stdin.off("error", this.onstreamerror);
    this.stdin.off("end", this.onend);
    this.stdin.off("close", this.onend);
    this.onclose?.();
  }
}
