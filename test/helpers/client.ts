// A real MCP client over stdio, spawning the built server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { serverEntry } from "./offline.js";

export interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  pid: () => number | null;
  close: () => Promise<void>;
  /** Names from every tools/list_changed notification, in order of arrival. */
  listChanges: number;
}

export async function connect(env: Record<string, string>, args: string[] = []): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [serverEntry, ...args],
    env,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const state: Connected = {
    client: undefined as unknown as Client,
    transport,
    stderr: () => stderr,
    pid: () => transport.pid,
    close: async () => {
      await state.client.close().catch(() => {});
    },
    listChanges: 0,
  };
  const client = new Client(
    { name: "flakebot-test", version: "0.0.0" },
    {
      capabilities: {},
      listChanged: {
        tools: {
          autoRefresh: false,
          onChanged: () => {
            state.listChanges += 1;
          },
        },
      },
    },
  );
  state.client = client;
  await client.connect(transport);
  return state;
}
