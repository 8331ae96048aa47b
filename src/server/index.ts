// MCP wiring only: the meta tools, the crafted tools, logging. Transports connect it.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Flakebot } from "../app.js";
import { addLogSink } from "../log.js";
import { CraftedTools } from "./crafted.js";
import { ToolList } from "./tool-list.js";
import { registerCraftTool } from "./tools/craft.js";
import { registerDescribeTool } from "./tools/describe.js";
import { registerInvokeTool } from "./tools/invoke.js";
import { registerDisposeTool } from "./tools/dispose.js";
import { VERSION } from "../version.js";
import { registerResources } from "./resources.js";
import { registerPrompts } from "./prompts.js";
import { watchTools } from "./watch.js";

export interface FlakebotServer {
  server: McpServer;
  crafted: CraftedTools;
  close(): Promise<void>;
}

const INSTRUCTIONS = [
  "Flakebot crafts the tool you are missing from a Rust program: call craft_tool with instructions and a source or crate.",
  "When it returns status \"building\", poll describe_tool with wait_seconds. When ready, call the new tool by name,",
  "or through invoke_tool if your tool list has not refreshed. dispose_tool removes a tool when you are done.",
].join(" ");

/** Builds the server around a started Flakebot core. Register before connecting. */
export async function createServer(app: Flakebot): Promise<FlakebotServer> {
  const server = new McpServer(
    { name: "flakebot", version: VERSION },
    {
      capabilities: { logging: {}, tools: { listChanged: true }, resources: { listChanged: true }, prompts: {} },
      instructions: INSTRUCTIONS,
    },
  );
  // Another process (the command line) may dispose a tool: it leaves every list here.
  let crafted: CraftedTools | undefined;
  const noticeGone = () => app.noticeGone(crafted?.names() ?? []);
  const tools = new ToolList(server, noticeGone);
  registerCraftTool(tools.register, app);
  registerDescribeTool(tools.register, app);
  registerInvokeTool(tools.register, app);
  registerDisposeTool(tools.register, app);

  registerResources(server, app);
  registerPrompts(server);

  crafted = new CraftedTools(tools.register, app);
  for (const craft of await app.list()) crafted.register(craft);
  const watcher = watchTools(app.store.home, () => void noticeGone().catch(() => {}));
  const resourcesChanged = () => {
    if (server.isConnected()) server.sendResourceListChanged();
  };
  const onReady = (craft: Parameters<CraftedTools["register"]>[0]) => {
    crafted.register(craft);
    resourcesChanged();
  };
  const onRemoved = (name: string) => {
    crafted.remove(name);
    resourcesChanged();
  };
  app.on("ready", onReady);
  app.on("removed", onRemoved);

  const removeSink = addLogSink((level, message) => {
    if (server.isConnected()) server.sendLoggingMessage({ level, logger: "flakebot", data: message }).catch(() => {});
  });

  return {
    server,
    crafted,
    async close() {
      watcher?.close();
      removeSink();
      app.off("ready", onReady);
      app.off("removed", onRemoved);
      await app.close();
      await server.close().catch(() => {});
    },
  };
}
