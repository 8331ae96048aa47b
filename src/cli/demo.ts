// `npm run demo`: what an agent sees. A real MCP client starts Flakebot over stdio, crafts a
// tool from the bundled example crate (offline: it has no dependencies), calls it directly
// and through invoke_tool, then disposes of it. State goes to a temporary FLAKEBOT_HOME.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const exampleCrate = path.join(root, "test", "fixtures", "crates", "hello");

function show(title: string, body: string): void {
  process.stdout.write(`\n=== ${title}\n${body.trimEnd()}\n`);
}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
}

async function main(): Promise<number> {
  const home = process.env.FLAKEBOT_HOME ?? (await fs.mkdtemp(path.join(os.tmpdir(), "flakebot-demo-")));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    FLAKEBOT_HOME: home,
    // The demo must work offline on a fresh machine: cargo needs nothing for this crate,
    // while a Nix build would first fetch nixpkgs. Say FLAKEBOT_BACKEND=nix to try Nix.
    FLAKEBOT_BACKEND: process.env.FLAKEBOT_BACKEND ?? "cargo",
    FLAKEBOT_LLM: process.env.FLAKEBOT_LLM ?? "none",
  });
  const transport = new StdioClientTransport({ command: process.execPath, args: [path.join(root, "dist", "src", "index.js")], env, stderr: "pipe" });
  let serverLog = "";
  transport.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  const client = new Client({ name: "flakebot-demo", version: "1.0.0" });
  await client.connect(transport);
  try {
    show("tools/list (before)", (await client.listTools()).tools.map((t) => `- ${t.name}: ${t.title ?? ""}`).join("\n"));

    const request = { instructions: "Print the given text in upper case", source: exampleCrate, name: "shout", wait_seconds: 300 };
    show("craft_tool request", JSON.stringify(request, null, 2));
    const progress: string[] = [];
    const crafted = (await client.callTool({ name: "craft_tool", arguments: request }, undefined, {
      onprogress: (p) => {
        progress.push(p.message ?? "");
        process.stdout.write(`  progress: ${p.message}\n`);
      },
      timeout: 600_000,
      resetTimeoutOnProgress: true,
    })) as CallToolResult;
    show("craft_tool result (text)", textOf(crafted));
    const s = crafted.structuredContent as Record<string, any>;
    show("craft_tool result (structured, abridged)", JSON.stringify({ status: s.status, tool: s.tool, build: s.build, tests: s.tests, sandboxed: s.sandboxed }, null, 2));
    if (s.status !== "ready") throw new Error(`the craft did not finish: ${s.message}`);

    show("tools/list (after)", (await client.listTools()).tools.map((t) => `- ${t.name}`).join("\n"));

    const direct = (await client.callTool({ name: "shout", arguments: { args: ["hello", "from", "flakebot;", "$(no shell)"] } })) as CallToolResult;
    show('shout {"args": ["hello", "from", "flakebot;", "$(no shell)"]}', textOf(direct));

    const viaInvoke = (await client.callTool({ name: "invoke_tool", arguments: { name: "shout", stdin: "piped through stdin\n" } })) as CallToolResult;
    show('invoke_tool {"name": "shout", "stdin": "piped through stdin\\n"}', textOf(viaInvoke));

    const disposed = (await client.callTool({ name: "dispose_tool", arguments: { name: "shout" } })) as CallToolResult;
    show("dispose_tool", textOf(disposed));
    show("done", `State was kept in ${home}. Run the tests with: npm test`);
    return 0;
  } catch (err) {
    process.stderr.write(`demo failed: ${(err as Error).message}\n--- server log ---\n${serverLog}\n`);
    return 1;
  } finally {
    await client.close();
  }
}

main().then((code) => process.exit(code));
