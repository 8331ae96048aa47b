// The client configurations the README and mcp.json give work from a clone: the server is
// started exactly as mcp.json says (its command, args and env) with `flakebot` on PATH as
// `npm install -g .` puts it there (a link to package.json's bin), and as the README's
// absolute-path configuration says; a real MCP client lists the meta tools through each.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { repoRoot, testEnv } from "./helpers/offline.js";

interface ServerConfig {
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

async function listThrough(config: ServerConfig, env: Record<string, string>): Promise<string[]> {
  const transport = new StdioClientTransport({ command: config.command, args: config.args ?? [], env: { ...env, ...config.env }, stderr: "pipe" });
  const client = new Client({ name: "mcp-json-test", version: "0.0.0" });
  await client.connect(transport);
  try {
    return (await client.listTools()).tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
}

const META = ["craft_tool", "describe_tool", "dispose_tool", "invoke_tool"];

test("mcp.json starts the server once `npm install -g .` has put flakebot on PATH", async () => {
  const t = await testEnv();
  try {
    const mcp = JSON.parse(await fs.readFile(path.join(repoRoot, "mcp.json"), "utf8")) as { mcpServers: Record<string, ServerConfig> };
    const config = mcp.mcpServers.flakebot;
    assert.notEqual(config.command, "npx", "no package is published: npx cannot start it");
    // What a global install from the checkout makes: <prefix>/bin/<bin name> -> the checkout's entry point.
    const pkg = JSON.parse(await fs.readFile(path.join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
    const bin = path.join(t.dir, "prefix", "bin");
    await fs.mkdir(bin, { recursive: true });
    await fs.symlink(path.join(repoRoot, pkg.bin[config.command]), path.join(bin, config.command));
    assert.deepEqual(await listThrough(config, { ...t.env, PATH: `${bin}:${t.env.PATH}` }), META);
  } finally {
    await fs.rm(t.dir, { recursive: true, force: true });
  }
});

test("the README's absolute-path configuration starts the server from the clone", async () => {
  const t = await testEnv();
  try {
    const readme = await fs.readFile(path.join(repoRoot, "README.md"), "utf8");
    const m = /"command": "node", "args": \["(\/path\/to\/flakebot)(\/[^"]+)"\]/.exec(readme);
    assert.ok(m, "the README gives the absolute-path form");
    assert.deepEqual(await listThrough({ command: "node", args: [path.join(repoRoot, m[2])] }, t.env), META);
    assert.doesNotMatch(readme, /github:flakebot\/flakebot/, "no Nix reference to a repository that is not this one");
    for (const line of readme.split("\n").filter((l) => /npx -y flakebot|"npx"/.test(l))) assert.match(line, /once the package is published/i);
  } finally {
    await fs.rm(t.dir, { recursive: true, force: true });
  }
});
