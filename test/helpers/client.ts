// A real MCP client over stdio, spawning the built server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { serverEntry } from "./offline.js";

export interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  pid: () => number | null;
  /** How many notifications/tools/list_changed arrived so far. */
  listChanges: () => number;
  /** Calls a tool; `structured` is its structuredContent. */
  call: (name: string, args: Record<string, unknown>, options?: { timeout?: number; onprogress?: (p: { progress: number; message?: string }) => void }) => Promise<CallToolResult & { structured: Record<string, any> }>;
  close: () => Promise<void>;
}

/** Spawns the server (under `wrapper`, an argv such as a bwrap command, when given) and connects. */
export async function connect(env: Record<string, string>, args: string[] = [], wrapper: string[] = []): Promise<Connected> {
  const argv = [...wrapper, process.execPath, serverEntry, ...args];
  const transport = new StdioClientTransport({ command: argv[0], args: argv.slice(1), env, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (process.env.FLAKEBOT_TEST_VERBOSE) process.stderr.write(d);
  });
  let changes = 0;
  const client = new Client({ name: "flakebot-test", version: "0.0.0" }, { capabilities: {} });
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    changes += 1;
  });
  await client.connect(transport);
  return {
    client,
    transport,
    stderr: () => stderr,
    pid: () => transport.pid,
    listChanges: () => changes,
    call: async (name, args, options = {}) => {
      const r = (await client.callTool({ name, arguments: args }, undefined, {
        timeout: options.timeout ?? 600_000,
        onprogress: options.onprogress,
        resetTimeoutOnProgress: true,
      })) as CallToolResult;
      return { ...r, structured: (r.structuredContent ?? {}) as Record<string, any> };
    },
    close: async () => {
      await client.close().catch(() => {});
    },
  };
}

/** The text of a result's first content block. */
export function textOf(r: CallToolResult): string {
  const first = r.content[0];
  return first && first.type === "text" ? first.text : "";
}
