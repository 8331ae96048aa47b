// FLAKEBOT_SANDBOX_WRITE: a crafted tool writes to the client's MCP roots only when the
// operator allows it, and never elsewhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ListRootsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { fixturesDir, serverEntry, testEnv } from "./helpers/offline.js";
import { findBwrap } from "../src/exec/sandbox.js";

async function withRootsClient<T>(env: Record<string, string>, root: string, body: (call: (name: string, args: Record<string, unknown>) => Promise<Record<string, any>>) => Promise<T>): Promise<T> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [serverEntry], env, stderr: "pipe" });
  const client = new Client({ name: "rooted", version: "0.0.0" }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file://${root}`, name: "project" }] }));
  await client.connect(transport);
  try {
    return await body(async (name, args) => {
      const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as CallToolResult;
      return r.structuredContent as Record<string, any>;
    });
  } finally {
    await client.close();
  }
}

test("roots are writable under FLAKEBOT_SANDBOX_WRITE=roots and only readable without it", { timeout: 300_000, skip: findBwrap() ? false : "bwrap is not installed" }, async () => {
  const t = await testEnv({ FLAKEBOT_SANDBOX: "auto" });
  const root = path.join(t.dir, "project");
  const elsewhere = path.join(t.dir, "elsewhere");
  await fs.mkdir(root);
  await fs.mkdir(elsewhere);
  await fs.writeFile(path.join(root, "input.txt"), "readable\n");

  await withRootsClient({ ...t.env, FLAKEBOT_SANDBOX_WRITE: "roots" }, root, async (call) => {
    const crafted = await call("craft_tool", { instructions: "attacks", source: path.join(fixturesDir, "crates", "attacker"), name: "attacker", wait_seconds: 240 });
    assert.equal(crafted.status, "ready", crafted.error);
    const inRoot = await call("attacker", { args: ["write", path.join(root, "out.txt")] });
    assert.equal(inRoot.exit_code, 0, inRoot.stdout + inRoot.stderr);
    assert.equal(await fs.readFile(path.join(root, "out.txt"), "utf8"), "attacker was here\n");
    const outside = await call("attacker", { args: ["write", path.join(elsewhere, "out.txt")] });
    assert.notEqual(outside.exit_code, 0);
    await assert.rejects(fs.access(path.join(elsewhere, "out.txt")));
  });

  await fs.rm(path.join(root, "out.txt"));
  await withRootsClient(t.env, root, async (call) => {
    const denied = await call("attacker", { args: ["write", path.join(root, "out.txt")] });
    assert.notEqual(denied.exit_code, 0, "the default policy keeps roots read-only");
    await assert.rejects(fs.access(path.join(root, "out.txt")));
    const read = await call("attacker", { args: ["read", path.join(root, "input.txt")] });
    assert.match(read.stdout, /readable/);
  });
});
