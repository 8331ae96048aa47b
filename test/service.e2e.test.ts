// Crafted services end to end: a real MCP client spawns the built server over stdio, which
// crafts the kvstore fixture (a std-only HTTP key-value store, built with real cargo) as a
// service, starts it on a loopback port (sandboxed where bwrap exists), and lets the agent
// call it; it is restarted after a crash, stopped with the server, started again with the
// next server, and disposed. Only 127.0.0.1 is used.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { processesUnder, waitFor } from "./helpers/procs.js";
import { findBwrap } from "../src/exec/sandbox.js";

const kvstore = path.join(fixturesDir, "crates", "kvstore");
const hello = path.join(fixturesDir, "crates", "hello");

let t: TestEnv;
let c: Connected;
/** A server standing for everything outside the service: no request may reach it. */
let outside: http.Server;
let outsideHits = 0;
let outsideUrl = "";

const toolDir = (name: string) => path.join(t.home, "tools", name);

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

async function describeKv(): Promise<Record<string, any>> {
  return (await c.call("describe_tool", { name: "kv" })).structured;
}

before(async () => {
  t = await testEnv({ FLAKEBOT_SANDBOX: "auto" });
  outside = http.createServer((_req, res) => {
    outsideHits += 1;
    res.end("outside\n");
  });
  await new Promise<void>((r) => outside.listen(0, "127.0.0.1", r));
  outsideUrl = `http://127.0.0.1:${(outside.address() as net.AddressInfo).port}/`;
  c = await connect(t.env);
});

after(async () => {
  await c?.close();
  await new Promise((r) => outside?.close(r));
  if (t) await fs.rm(t.dir, { recursive: true, force: true });
});

describe("a crafted service", () => {
  test("crafts kvstore as a service: ready only once it answers, with its url", { timeout: 240_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "a key-value store over HTTP", source: kvstore, name: "kv", kind: "service", wait_seconds: 200 });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(r.structured.status, "ready");
    assert.equal(r.structured.service.state, "running");
    assert.equal(r.structured.service.restarts, 0);
    assert.equal(r.structured.sandboxed, findBwrap() !== null, "sandboxed wherever bwrap exists");
    const url = new URL(r.structured.service.url);
    assert.equal(url.hostname, "127.0.0.1");
    assert.ok(await canConnect(Number(url.port)), "the service listens on its port");
    assert.match(r.structured.usage, /"path"/);
    const tools = await c.client.listTools();
    const kv = tools.tools.find((x) => x.name === "kv");
    assert.ok(kv, "the service tool is listed");
    assert.deepEqual(Object.keys(kv.inputSchema.properties ?? {}).sort(), ["body", "headers", "method", "path", "timeout_ms"]);
    assert.deepEqual(kv.inputSchema.required, ["path"]);
    assert.ok(kv.outputSchema?.properties?.status);
  });

  test("PUT then GET through the tool returns the value", async () => {
    const put = await c.call("kv", { method: "PUT", path: "/kv/greeting", body: "hello, service" });
    assert.equal(put.isError, undefined, textOf(put));
    assert.equal(put.structured.status, 204);
    const get = await c.call("kv", { path: "/kv/greeting" });
    assert.equal(get.structured.status, 200);
    assert.equal(get.structured.body, "hello, service");
    assert.equal(get.structured.truncated, false);
    assert.equal(get.structured.headers["content-type"], "text/plain; charset=utf-8");
    const missing = await c.call("kv", { method: "GET", path: "/kv/nothing" });
    assert.equal(missing.structured.status, 404);
  });

  test("no path, header or redirect leaves the service's address", async () => {
    for (const p of [outsideUrl, "http://127.0.0.1:1/", "//evil.example/", "//127.0.0.1:1/x", "evil.example/", "/\\evil.example", "/a b"]) {
      const r = await c.call("kv", { path: p });
      assert.equal(r.isError, true, `path ${p} must be refused`);
    }
    // Encoded dot segments and a Host header go to the service itself, which answers them.
    const dots = await c.call("kv", { path: "/..%2f..%2fetc/passwd" });
    assert.equal(dots.structured.status, 404);
    assert.equal(dots.structured.body, "not found\n");
    const host = await c.call("kv", { path: "/echo-path?x=1", headers: { Host: new URL(outsideUrl).host } });
    assert.equal(host.structured.body, "/echo-path?x=1");
    // The service itself redirects elsewhere: the redirect is returned, never followed.
    await c.call("kv", { method: "PUT", path: "/kv/elsewhere", body: outsideUrl });
    const redirect = await c.call("kv", { path: "/go/elsewhere" });
    assert.equal(redirect.structured.status, 302);
    assert.equal(redirect.structured.headers.location, outsideUrl);
    assert.equal(outsideHits, 0, "nothing reached the outside server");
  });

  test("a crash is restarted, counted, and the data survives", { timeout: 60_000 }, async () => {
    const before = await describeKv();
    await c.call("kv", { method: "POST", path: "/crash" });
    const after = await waitFor("the restart", async () => {
      const d = await describeKv();
      return d.service.restarts === 1 && d.service.state === "running" && d;
    }, 30_000, 200);
    assert.equal(after.service.url, before.service.url, "restarted on the same port");
    assert.ok(after.log_tail.some((l: string) => /crash requested/.test(l)), "the service's output is in the log tail");
    assert.ok(after.log_tail.some((l: string) => /restarting/.test(l)));
    const get = await c.call("kv", { path: "/kv/greeting" });
    assert.equal(get.structured.body, "hello, service");
  });

  test("a program that never becomes healthy fails clearly and leaves no process", { timeout: 120_000 }, async () => {
    const started = Date.now();
    const r = await c.call("craft_tool", { instructions: "not a server", source: hello, name: "not_a_server", kind: "service", wait_seconds: 100 });
    assert.equal(r.isError, true);
    assert.equal(r.structured.status, "failed");
    assert.equal(r.structured.stage, "register");
    assert.match(r.structured.error, /did not become healthy/);
    assert.match(r.structured.error, /exited \(exit code 0\)/);
    assert.ok(Date.now() - started < 90_000);
    assert.deepEqual(await processesUnder(toolDir("not_a_server")), []);
    const tools = await c.client.listTools();
    assert.equal(tools.tools.some((x) => x.name === "not_a_server"), false);
    await c.call("dispose_tool", { name: "not_a_server" });
  });

  test("the server's shutdown stops the service; the next server starts it again", { timeout: 60_000 }, async () => {
    const port = Number(new URL((await describeKv()).service.url).port);
    await c.close();
    await waitFor("the service to stop", async () => (await processesUnder(toolDir("kv"))).length === 0 && !(await canConnect(port)), 15_000);
    c = await connect(t.env);
    const d = await waitFor("the service to run again", async () => {
      const x = await describeKv();
      return x.service?.state === "running" && x;
    }, 30_000, 200);
    assert.equal(d.service.restarts, 0);
    const tools = await c.client.listTools();
    assert.ok(tools.tools.some((x) => x.name === "kv"));
    const get = await c.call("kv", { path: "/kv/greeting" });
    assert.equal(get.structured.body, "hello, service", "the data was kept in its data directory");
  });

  test("dispose stops it, closes its port and leaves no process", { timeout: 30_000 }, async () => {
    const port = Number(new URL((await describeKv()).service.url).port);
    const r = await c.call("dispose_tool", { name: "kv" });
    assert.equal(r.isError, undefined, textOf(r));
    assert.ok(r.structured.removed.some((x: string) => /service on 127\.0\.0\.1/.test(x)));
    assert.equal(await canConnect(port), false, "the port is closed");
    assert.deepEqual(await processesUnder(toolDir("kv")), []);
    await assert.rejects(fs.access(toolDir("kv")));
    const gone = await c.call("kv", { path: "/kv/greeting" });
    assert.equal(gone.isError, true);
  });
});
