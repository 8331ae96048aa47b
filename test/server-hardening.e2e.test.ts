// The server cannot be turned against its host by an MCP client or another local process:
// names never become paths outside tools/<name>, JSON-RPC errors are answered as the spec
// says, a craft's owner is a process (pid and start time) and not a reused pid, a manifest
// that does not verify is quarantined, and none lowers the configured sandbox.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixtureRepo, fixturesDir, serverEntry, testEnv, type TestEnv } from "./helpers/offline.js";
import { startGithub } from "./fixtures/far-ends/github.js";
import { rawSession } from "./helpers/raw-rpc.js";
import { waitFor } from "./helpers/procs.js";
import { runProcess } from "../src/exec/process.js";
import { findBwrap } from "../src/exec/sandbox.js";

const attacker = path.join(fixturesDir, "crates", "attacker");
let t: TestEnv;
let c: Connected;

const flakebot = (args: string[]) => runProcess([process.execPath, serverEntry, ...args], { cwd: t.dir, env: t.env, timeoutMs: 120_000 });
const toolDir = (name: string) => path.join(t.home, "tools", name);
const exists = (p: string) => fs.access(p).then(() => true, () => false);
/** The attacker's "args" attack prints each argument in hex. */
const hex = (text: string) => Buffer.from(text).toString("hex");
const listed = async () => (await c.client.listTools()).tools.map((x) => x.name);

async function craft(name: string): Promise<void> {
  const r = await c.call("craft_tool", { instructions: "run the attack its first argument names", source: attacker, name, modify: "never", wait_seconds: 300 });
  assert.equal(r.structured.status, "ready", textOf(r));
}

/** The two tools still exist and run: what every attack below must leave intact. */
async function bothStillWork(): Promise<void> {
  for (const name of ["keep_a", "keep_b"]) {
    assert.ok(await exists(path.join(toolDir(name), "manifest.json")), `${name}'s manifest is still there`);
    const r = await c.call(name, { args: ["args", "still", "here"] });
    assert.equal(r.isError, undefined, textOf(r));
    assert.match(r.structured.stdout, new RegExp(hex("still")));
  }
}

before(async () => {
  t = await testEnv({ FLAKEBOT_SANDBOX: "auto" });
  c = await connect(t.env);
  await craft("keep_a");
  await craft("keep_b");
});

after(async () => {
  await c?.close();
});

test("dispose, describe, invoke and resources refuse names that would leave tools/<name>; nothing is deleted", async () => {
  for (const name of [".", "..", "x/..", "keep_a/..", "./keep_a", "/", "keep_a/../keep_b", "KEEP_A", "keep_a\u0000"]) {
    for (const [tool, args] of [
      ["dispose_tool", { name }],
      ["describe_tool", { name }],
      ["invoke_tool", { name, args: [] }],
    ] as const) {
      const r = await c.call(tool, args);
      assert.equal(r.isError, true, `${tool} ${JSON.stringify(name)}: ${textOf(r)}`);
      assert.match(textOf(r), /is not a crafted tool's name: names are 1 to 48 lowercase letters/, `${tool} ${JSON.stringify(name)}`);
    }
  }
  await assert.rejects(c.client.readResource({ uri: "flakebot://tools/../manifest" }));
  await assert.rejects(c.client.readResource({ uri: "flakebot://tools/./manifest" }));
  assert.deepEqual((await fs.readdir(path.join(t.home, "tools"))).sort(), ["keep_a", "keep_b"]);
  assert.ok((await listed()).includes("keep_a") && (await listed()).includes("keep_b"));
  await bothStillWork();
});

test("flakebot dispose . (and friends) exits 1 with the reason and deletes nothing", async () => {
  for (const name of [".", "x/..", "..", "keep_a/.."]) {
    const r = await flakebot(["dispose", name]);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /is not a crafted tool's name/);
  }
  const describe = await flakebot(["describe", "."]);
  assert.equal(describe.exitCode, 1);
  assert.deepEqual((await fs.readdir(path.join(t.home, "tools"))).sort(), ["keep_a", "keep_b"]);
  const run = await flakebot(["run", "keep_a", "--", "args", "cli"]);
  assert.equal(run.exitCode, 0, run.stderr);
  await bothStillWork();
});

test("JSON-RPC: parse errors, invalid requests, odd ids, batches and calls before initialize are answered", async () => {
  const s = rawSession(t.env);
  try {
    s.send("{not json");
    const parse = await s.next();
    assert.equal(parse.error.code, -32700);
    assert.equal(parse.id, null);
    s.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "keep_a", arguments: { args: ["write", path.join(t.dir, "pre-init")] } } });
    const early = await s.next();
    assert.equal(early.id, 1);
    assert.equal(early.error.code, -32600);
    assert.match(early.error.message, /before initialize; send initialize first/);
    assert.equal(await exists(path.join(t.dir, "pre-init")), false, "the call before initialize did not run");
    s.send({ jsonrpc: "2.0", id: 2, method: "ping" });
    assert.deepEqual((await s.next()).result, {}, "ping is allowed before initialize");
    s.send([{ jsonrpc: "2.0", id: 3, method: "ping" }]);
    assert.equal((await s.next()).error.code, -32600, "a batch before initialize");

    await s.initialize("2025-06-18");
    for (const odd of [1.5, { a: 1 }, true, null]) {
      s.send({ jsonrpc: "2.0", id: odd, method: "ping" });
      const r = await s.next();
      assert.equal(r.error.code, -32600, JSON.stringify(r));
      assert.equal(r.id, null);
      assert.match(r.error.message, /id must be a string or an integer/);
    }
    s.send({ jsonrpc: "1.0", id: 7, method: "ping" });
    assert.deepEqual([(await s.next()).error.code], [-32600]);
    s.send({ jsonrpc: "2.0", id: 8 });
    assert.equal((await s.next()).error.code, -32600, "neither a request nor a response");
    s.send([{ jsonrpc: "2.0", id: 9, method: "ping" }, { jsonrpc: "2.0", id: 10, method: "ping" }]);
    const batch = await s.next();
    assert.equal(batch.error.code, -32600, "2025-06-18 has no batches");
    assert.match(batch.error.message, /no JSON-RPC batches/);
    s.send({ jsonrpc: "2.0", id: 11, method: "tools/call", params: { name: 5 } });
    const bad = await s.next();
    assert.equal(bad.id, 11);
    assert.equal(bad.error.code, -32602);
    assert.equal(bad.error.message, "Invalid params for tools/call: params.name: expected string, received number");
    s.send({ jsonrpc: "2.0", id: "after", method: "ping" });
    assert.deepEqual((await s.next((m) => m.id === "after")).result, {}, "still answering");
    s.child.stdin!.end();
    assert.equal(await s.exited, 0, "exits cleanly when stdin closes");
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("JSON-RPC under 2025-03-26: a batch gets one array of answers, notifications none", async () => {
  const s = rawSession(t.env);
  try {
    const init = await s.initialize("2025-03-26");
    assert.equal(init.result.protocolVersion, "2025-03-26");
    s.send([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "keep_a", arguments: { args: ["args", "in", "batch"] } } },
      { jsonrpc: "2.0", id: 1.5, method: "ping" },
    ]);
    const answers = await s.next((m) => Array.isArray(m));
    assert.equal(answers.length, 3);
    const byId = new Map(answers.map((a: any) => [a.id, a]));
    assert.deepEqual((byId.get(1) as any).result, {});
    assert.match((byId.get(2) as any).result.structuredContent.stdout, new RegExp(hex("batch")));
    assert.equal((byId.get(null) as any).error.code, -32600);
    s.child.stdin!.end();
    assert.equal(await s.exited, 0);
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("a message over 10 MiB gets a clear error with its id, and the server keeps serving", { timeout: 60_000 }, async () => {
  const s = rawSession(t.env);
  try {
    await s.initialize();
    const stdin = "x".repeat(12 * 1024 * 1024);
    s.send({ jsonrpc: "2.0", method: "tools/call", params: { name: "keep_a", arguments: { args: ["args"], stdin } }, id: 42 });
    const r = await s.next((m) => m.id === 42);
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /the message is 12\.0 MiB; Flakebot reads at most 10\.0 MiB per JSON-RPC message\. Send a large input as a file/);
    s.send({ jsonrpc: "2.0", id: 43, method: "tools/call", params: { name: "keep_a", arguments: { args: ["args", "after"] } } });
    const ok = await s.next((m) => m.id === 43);
    assert.match(ok.result.structuredContent.stdout, new RegExp(hex("after")));
    s.child.stdin!.end();
    assert.equal(await s.exited, 0);
  } finally {
    s.child.kill("SIGKILL");
  }
  // Under the limit but over the schema's 8 MiB: a readable validation error.
  const big = await c.call("keep_a", { args: ["args"], stdin: "y".repeat(8 * 1024 * 1024 + 1) });
  assert.equal(big.isError, true);
  assert.match(textOf(big), /stdin/);
});

test("a craft owned by a dead PID 1 (wrong start time) is taken as interrupted, and its name can be reused", { timeout: 300_000 }, async () => {
  await c.close();
  const dir = toolDir("ghost");
  await fs.mkdir(dir);
  const now = new Date().toISOString();
  await fs.writeFile(
    path.join(dir, "manifest.json"),
    JSON.stringify({ schema: 1, name: "ghost", status: "building", stage: "build", message: "building", owner_pid: 1, owner_start: "1", request: { instructions: "x", source: attacker, modify: "never", kind: "command" }, created_at: now, updated_at: now }),
  );
  c = await connect(t.env);
  const d = await c.call("describe_tool", { name: "ghost" });
  assert.equal(d.structured.status, "failed", textOf(d));
  assert.match(d.structured.message, /interrupted/);
  await craft("ghost");
  const gone = await c.call("dispose_tool", { name: "ghost" });
  assert.equal(gone.isError, undefined, textOf(gone));
});

test("a tool disposed by the command line while the server runs leaves its tool list", { timeout: 300_000 }, async () => {
  await craft("cli_gone");
  assert.ok((await listed()).includes("cli_gone"));
  const before = c.listChanges();
  const r = await flakebot(["dispose", "cli_gone"]);
  assert.equal(r.exitCode, 0, r.stderr);
  await waitFor("tools/list_changed after another process's dispose", async () => c.listChanges() > before, 10_000);
  assert.ok(!(await listed()).includes("cli_gone"));
  const call = await c.call("invoke_tool", { name: "cli_gone", args: [] });
  assert.equal(call.isError, true);
  await bothStillWork();
});

test("30 arguments of 100 KB: a clear error about the argument list, no internal command line, stderr capped", { timeout: 60_000 }, async () => {
  const huge = Array.from({ length: 30 }, (_, i) => `${i}`.padEnd(100_000, "a"));
  const r = await c.call("keep_a", { args: ["args", ...huge] });
  assert.equal(r.isError, true, JSON.stringify(r.structured).slice(0, 300));
  assert.match(textOf(r), /arguments are 2\.9 MiB.*E2BIG.*stdin/s);
  assert.ok(textOf(r).length < 2000, "a short message");
  assert.doesNotMatch(textOf(r), /prlimit|bwrap|--ro-bind/);
  await bothStillWork();
});

test("a hand-edited manifest that lowers the sandbox still runs sandboxed", { skip: findBwrap() ? false : "bwrap is not installed" }, async () => {
  const marker = path.join(t.dir, "written-by-tool");
  const before = await c.call("keep_b", { args: ["write", marker] });
  assert.equal(await exists(marker), false, `sandboxed as crafted: ${before.structured.stdout}`);
  const file = path.join(toolDir("keep_b"), "manifest.json");
  const m = JSON.parse(await fs.readFile(file, "utf8"));
  assert.equal(m.sandboxed, true);
  await fs.writeFile(file, JSON.stringify({ ...m, sandboxed: false }));
  await c.close();
  c = await connect(t.env);
  const r = await c.call("keep_b", { args: ["write", marker] });
  assert.equal(r.isError, undefined, textOf(r));
  assert.equal(await exists(marker), false, `the write was refused: ${r.structured.stdout}`);
  assert.equal((await c.call("describe_tool", { name: "keep_b" })).structured.sandboxed, true, "and says so");
});

test("a manifest pointing at another binary, or a changed binary, is quarantined with a message saying what to do", async () => {
  const file = path.join(toolDir("keep_a"), "manifest.json");
  const m = JSON.parse(await fs.readFile(file, "utf8"));
  await fs.writeFile(file, JSON.stringify({ ...m, build: { ...m.build, binary: "/bin/sh" }, sandboxed: false }));
  await c.close();
  c = await connect(t.env);
  assert.ok(!(await listed()).includes("keep_a"), "not registered");
  const d = await c.call("describe_tool", { name: "keep_a" });
  assert.equal(d.isError, true);
  assert.match(textOf(d), /"keep_a" is quarantined: its manifest does not verify \(its binary \/bin\/sh is outside Flakebot's builds.*dispose it \(dispose_tool\) and craft it again/);
  assert.match(c.stderr(), /"keep_a" is quarantined/);
  const list = await flakebot(["list"]);
  assert.match(list.stdout, /keep_a\s+quarantined/);
  const ok = await c.call("keep_b", { args: ["args", "fine"] });
  assert.match(ok.structured.stdout, new RegExp(hex("fine")));

  // The binary itself changed under a running server: refused before it runs.
  const binary = JSON.parse(await fs.readFile(path.join(toolDir("keep_b"), "manifest.json"), "utf8")).build.binary;
  await fs.appendFile(binary, "tampered");
  const r = await c.call("keep_b", { args: ["args", "x"] });
  assert.equal(r.isError, true);
  assert.match(textOf(r), /"keep_b" is quarantined: .*does not match the sha256 recorded when it was crafted/);
  await waitFor("keep_b unregistered", async () => !(await listed()).includes("keep_b"));
  for (const name of ["keep_a", "keep_b"]) {
    const gone = await c.call("dispose_tool", { name });
    assert.equal(gone.isError, undefined, textOf(gone));
    assert.equal(await exists(toolDir(name)), false);
  }
});

test("forks through the real server: a GitHub source is forked and its fork deleted on dispose; the user's own fork is kept; a refused token is said in the message", { timeout: 300_000 }, async () => {
  const reposRoot = path.join(t.dir, "github");
  await fixtureRepo("hello", path.join(reposRoot, "upstream-owner", "hello"), "v0.1.0", t.env);
  await fs.appendFile(t.env.GIT_CONFIG_GLOBAL, `[url "file://${reposRoot}/"]\n\tinsteadOf = https://github.com/\n`);
  const token = "ghp_standin_token_hardening_0123";
  const mine = await startGithub({ reposRoot, token, login: "crafter" });
  const users = path.join(reposRoot, "owner-with-fork", "hello-mine.git");
  await runProcess(["git", "clone", "--bare", "--quiet", path.join(reposRoot, "upstream-owner", "hello"), users], { cwd: t.dir, env: t.env });
  const theirs = await startGithub({ reposRoot, token, login: "owner-with-fork", existingForks: { "owner-with-fork/hello-mine": "upstream-owner/hello" } });
  const source = "https://github.com/upstream-owner/hello";
  const craftWith = async (name: string, env: Record<string, string>) => {
    const s = await connect({ ...t.env, ...env });
    try {
      const r = await s.call("craft_tool", { instructions: "upper case", source, rev: "v0.1.0", name, modify: "never", wait_seconds: 240 });
      assert.equal(r.structured.status, "ready", textOf(r));
      const gone = await s.call("dispose_tool", { name });
      assert.equal(gone.isError, undefined, textOf(gone));
      return { ready: r.structured, removed: gone.structured.removed as string[] };
    } finally {
      await s.close();
    }
  };
  try {
    const refused = await craftWith("fork_refused", { GITHUB_TOKEN: "ghp_wrong_token_1111111111", GITHUB_API_URL: mine.url });
    assert.match(refused.ready.message, /^ready; could not fork on GitHub \(.*401.*GITHUB_TOKEN was refused/);
    assert.doesNotMatch(refused.ready.message, /ghp_wrong/);

    const made = await craftWith("fork_made", { GITHUB_TOKEN: token, GITHUB_API_URL: mine.url });
    assert.equal(made.ready.source.fork, "https://github.com/crafter/hello");
    assert.deepEqual(mine.forks, ["crafter/hello"]);
    assert.ok(made.removed.includes("fork https://github.com/crafter/hello"), made.removed.join("; "));
    assert.deepEqual(mine.deleted, ["crafter/hello"]);

    const kept = await craftWith("fork_kept", { GITHUB_TOKEN: token, GITHUB_API_URL: theirs.url });
    assert.equal(kept.ready.source.fork, "https://github.com/owner-with-fork/hello-mine");
    assert.match(kept.ready.message, /already had; dispose keeps it/);
    assert.ok(!kept.removed.some((r) => /deleted|^fork https/.test(r)), kept.removed.join("; "));
    assert.deepEqual(theirs.deleted, []);
    assert.ok(await exists(users), "the user's fork is still there");
  } finally {
    await mine.close();
    await theirs.close();
  }
});
