// The server driven over raw stdio lines, for what an SDK client never sends: malformed
// JSON, batches, odd ids, oversized messages, requests before initialize.
import { spawn, type ChildProcess } from "node:child_process";
import { serverEntry } from "./offline.js";

export interface RawSession {
  child: ChildProcess;
  /** Writes one line (a string as is, anything else as JSON). */
  send(message: unknown): void;
  /** The next message on stdout that `match` accepts (log notifications are skipped). */
  next(match?: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  initialize(protocolVersion?: string): Promise<any>;
  exited: Promise<number | null>;
  stderr(): string;
}

export function rawSession(env: Record<string, string>): RawSession {
  const child = spawn(process.execPath, [serverEntry], { env, stdio: ["pipe", "pipe", "pipe"] });
  let buffer = "";
  let err = "";
  const messages: any[] = [];
  const waiters: (() => void)[] = [];
  child.stdout!.on("data", (d: Buffer) => {
    buffer += d.toString();
    let nl;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      messages.push(JSON.parse(buffer.slice(0, nl)));
      buffer = buffer.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const session: RawSession = {
    child,
    send: (message) => child.stdin!.write((typeof message === "string" ? message : JSON.stringify(message)) + "\n"),
    next: async (match = (m) => m.method !== "notifications/message", timeoutMs = 20_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex(match);
        if (i !== -1) return messages.splice(i, 1)[0];
        if (Date.now() > end) throw new Error(`no matching message; stderr:\n${err.slice(-2000)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    initialize: async (protocolVersion = "2025-06-18") => {
      session.send({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "0" } } });
      const r = await session.next((m) => m.id === "init");
      session.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      return r;
    },
    exited,
    stderr: () => err,
  };
  return session;
}
