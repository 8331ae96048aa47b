// `flakebot serve`: the MCP server on stdio. It ends cleanly, killing every child process,
// when stdin closes or on SIGINT/SIGTERM.
import { loadConfig } from "./config.js";
import { Flakebot } from "./app.js";
import { createServer } from "./server/index.js";
import { GuardedStdioTransport } from "./server/stdio.js";
import { killAllChildren } from "./exec/process.js";
import { log } from "./log.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { selectProvider } from "./llm/select.js";
import { RootsListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { CreateMessageFn } from "./llm/sampling.js";
import { startIdleDisposal } from "./state/idle.js";

export async function serve(): Promise<void> {
  const config = loadConfig();
  let mcp: McpServer | undefined;
  // The LLM is chosen per craft: the client's sampling capability is known only after
  // it has initialized.
  const sampling = (): CreateMessageFn | undefined =>
    mcp?.server.getClientCapabilities()?.sampling ? (params, options) => mcp!.server.createMessage(params, options) : undefined;
  const app = new Flakebot(config, { llm: () => selectProvider(config, { sampling: sampling() }) });
  const ready = await app.start();
  // -- services and idle disposal (issue 9): idle tools go before anything is registered or started.
  const idle = config.idleDisposeMs ? startIdleDisposal(app, config.idleDisposeMs) : undefined;
  const gone = new Set(await idle?.first);
  const { server, close } = await createServer(app);
  mcp = server;
  const refreshRoots = async () => {
    if (!server.server.getClientCapabilities()?.roots) return;
    try {
      const { roots } = await server.server.listRoots();
      app.setRoots(roots.map((r) => r.uri));
    } catch (err) {
      log.warn(`could not list the client's roots: ${(err as Error).message}`);
    }
  };
  server.server.oninitialized = () => void refreshRoots();
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, refreshRoots);
  void app.services.startAll(ready.filter((c) => !gone.has(c.name)));
  let closing = false;
  const shutdown = async (why: string) => {
    if (closing) return;
    closing = true;
    log.info(`shutting down (${why})`);
    const force = setTimeout(() => {
      killAllChildren();
      process.exit(0);
    }, 5000);
    force.unref();
    await close().catch((err) => log.error(`shutdown: ${(err as Error).message}`));
    process.exit(0);
  };
  process.stdin.on("end", () => void shutdown("stdin ended"));
  process.stdin.on("close", () => void shutdown("stdin closed"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("exit", () => killAllChildren());
  // A stray rejection is a bug to log, not a reason to drop every client's tools.
  process.on("unhandledRejection", (reason) => log.error(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`));
  await server.connect(new GuardedStdioTransport());
  server.server.onclose = () => void shutdown("connection closed");
  log.info(`serving on stdio; home ${config.home}; ${ready.length} crafted tool(s) registered`);
}
