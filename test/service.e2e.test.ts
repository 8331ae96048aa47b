// Crafted services end to end: a real MCP client spawns the built server over stdio, which
// crafts the kvstore fixture (a std-only HTTP key-value store, built with real cargo) as a
// service, starts it on a loopback port (sandboxed where bwrap exists), and lets the agent
// call it; it is restarted after a crash, stopped with the server, started again with the
// next server, and disposed. Only 127.0.0.1 is used.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixturesDir, serverEntry, testEnv, type TestEnv } from "./helpers/offline.js";
import { inspector, inspectorMissing, node22 } from "./helpers/inspector.js";
import { processesUnder, waitFor } from "./helpers/procs.js";
import { findBwrap } from "../src/exec/sandbox.js";
import { Supervisor } from "../src/service/supervisor.js";
import { portBinding } from "../src/service/port-binding.js";
import { parseHelp } from "../src/schema/help.js";
import { runProcess } from "../src/exec/process.js";
import { rawSession } from "./helpers/raw-rpc.js";

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

  test("describe_tool shows the HTTP request schema the service tool takes", async () => {
    const d = await c.call("describe_tool", { name: "kv" });
    assert.equal(d.isError, undefined, textOf(d));
    assert.deepEqual(d.structured.input_schema.required, ["path"]);
    assert.ok(d.structured.input_schema.properties.method.enum.includes("PUT"));
    const listed = (await c.client.listTools()).tools.find((x) => x.name === "kv")!;
    assert.deepEqual(Object.keys(listed.inputSchema.properties ?? {}).sort(), Object.keys(d.structured.input_schema.properties).sort());
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
    const late = await c.call("kv", { path: "/sleep/5000", timeout_ms: 300 });
    assert.equal(late.isError, true);
    assert.match(textOf(late), /no complete response within 300 ms/);
    const viaInvoke = await c.call("invoke_tool", { name: "kv", args: ["--help"] });
    assert.equal(viaInvoke.isError, true);
    assert.match(textOf(viaInvoke), /is a service: call it by name/);
    const big = "x".repeat(1536 * 1024);
    assert.equal((await c.call("kv", { method: "PUT", path: "/kv/big", body: big })).structured.status, 204);
    const capped = await c.call("kv", { path: "/kv/big" });
    assert.equal(capped.structured.status, 200);
    assert.equal(capped.structured.truncated, true);
    assert.equal(capped.structured.body.length, 1024 * 1024, "the body is capped at 1 MiB");
    assert.equal(capped.structured.headers["content-length"], String(big.length));
  });

  test("a second Flakebot process on the same home uses the running service; the service tool passes the Inspector's strict check", { timeout: 120_000, skip: inspectorMissing }, async () => {
    const envArgs = Object.entries(t.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const inspect = (args: string[]) =>
      runProcess([node22, inspector, "--cli", process.execPath, serverEntry, ...envArgs, ...args], {
        cwd: t.dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: t.dir },
        timeoutMs: 60_000,
      });
    const list = await inspect(["--method", "tools/list", "--strict"]);
    assert.equal(list.exitCode, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as { tools: { name: string }[] }).tools.some((x) => x.name === "kv"));
    const report = list.stderr.split("\n").filter((l) => !l.startsWith("flakebot "));
    assert.ok(!report.some((l) => /^(Warning|Error)\b/.test(l)), `strict check findings:\n${report.join("\n")}`);
    const call = await inspect(["--method", "tools/call", "--tool-name", "kv", "--tool-args-json", JSON.stringify({ path: "/kv/greeting" })]);
    assert.equal(call.exitCode, 0, call.stderr);
    assert.equal(JSON.parse(call.stdout).structuredContent.body, "hello, service");
    const kvProcesses = (await processesUnder(path.join(toolDir("kv"), "scratch"))).filter((p) => /kvstore/.test(p.cmd) && !/bwrap/.test(p.cmd));
    assert.equal(kvProcesses.length, 1, `one kvstore runs: ${JSON.stringify(kvProcesses)}`);
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
    const cliDescribe = async () => {
      const r = await runProcess([process.execPath, serverEntry, "describe", "kv", "--json"], { cwd: t.dir, env: t.env, timeoutMs: 30_000 });
      assert.equal(r.exitCode, 0, r.stderr);
      return JSON.parse(r.stdout).service;
    };
    assert.equal((await cliDescribe()).state, "running", "the command line sees the server's service");
    assert.ok(await canConnect(port), "and leaves it running");
    await c.close();
    await waitFor("the service to stop", async () => (await processesUnder(toolDir("kv"))).length === 0 && !(await canConnect(port)), 15_000);
    assert.equal((await cliDescribe()).state, "stopped");
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

  test("with its service running, a server answers an oversized message and still exits by itself when stdin closes", { timeout: 90_000 }, async () => {
    await c.close();
    await waitFor("the service to stop", async () => (await processesUnder(toolDir("kv"))).length === 0, 15_000);
    const s = rawSession(t.env);
    try {
      await s.initialize();
      const running = async () => {
        s.send({ jsonrpc: "2.0", id: "d", method: "tools/call", params: { name: "describe_tool", arguments: { name: "kv" } } });
        return (await s.next((m) => m.id === "d")).result.structuredContent.service?.state === "running";
      };
      await waitFor("this server to run the service", running, 30_000, 300);
      s.send({ jsonrpc: "2.0", method: "tools/call", params: { name: "kv", arguments: { path: "/kv/big", method: "PUT", body: "z".repeat(12 * 1024 * 1024) } }, id: 7 });
      const big = await s.next((m) => m.id === 7, 30_000);
      assert.equal(big.error.code, -32600);
      assert.match(big.error.message, /reads at most 10\.0 MiB per JSON-RPC message/);
      s.send({ jsonrpc: "2.0", id: 8, method: "ping" });
      assert.deepEqual((await s.next((m) => m.id === 8)).result, {}, "not deaf");
      s.child.stdin!.end();
      assert.equal(await s.exited, 0, "it exited on its own");
      await waitFor("no service process left", async () => (await processesUnder(toolDir("kv"))).length === 0, 15_000);
    } finally {
      s.child.kill("SIGKILL");
    }
    c = await connect(t.env);
    await waitFor("the service to run again", async () => (await describeKv()).service?.state === "running", 30_000, 200);
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

describe("how a service is given its port", () => {
  const help = (options: string) => parseHelp(`A server\n\nUsage: srv [OPTIONS]\n\nOptions:\n${options}  -h, --help         Print help\n`);

  test("a --port option, with --bind naming the host alone", () => {
    const b = portBinding(help("  -p, --port <PORT>  Port\n  -b, --bind <HOST>  Address\n"), 4321);
    assert.deepEqual(b.args, ["--port", "4321", "--bind", "127.0.0.1"]);
    assert.equal(b.env.PORT, "4321");
  });

  test("a --listen option alone takes host and port", () => {
    assert.deepEqual(portBinding(help("  -l, --listen <ADDR>  Where to listen\n"), 4321).args, ["--listen", "127.0.0.1:4321"]);
  });

  test("no such option: the PORT, BIND and HOST variables", () => {
    const b = portBinding(help("  -v, --verbose  More output\n"), 4321);
    assert.deepEqual(b.args, []);
    assert.deepEqual(b.env, { PORT: "4321", BIND: "127.0.0.1:4321", HOST: "127.0.0.1" });
    assert.deepEqual(portBinding(undefined, 80).args, []);
  });
});

describe("the supervisor, with programs that misbehave", () => {
  const python = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p));
  const skip = python ? false : "python3 is not installed";
  let dir: string;
  const script = async (name: string, body: string) => {
    const file = path.join(dir, name);
    await fs.writeFile(file, `#!${python}\n${body}`, { mode: 0o755 });
    return file;
  };

  before(async () => {
    dir = await fs.mkdtemp(path.join(t.dir, "supervisor-"));
  });

  test("a service that ignores SIGTERM is killed after the grace period; an HTTP health path waits for a good answer", { skip, timeout: 30_000 }, async () => {
    const binary = await script(
      "stubborn.py",
      `import os, signal, time, http.server
signal.signal(signal.SIGTERM, signal.SIG_IGN)
started = time.time()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if time.time() - started > 1 else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
    );
    const scratch = path.join(dir, "stubborn");
    const states: string[] = [];
    const s = new Supervisor({ binary, scratch, sandboxed: false, logFile: path.join(dir, "stubborn.log"), healthPath: "/ready", stopGraceMs: 700, onChange: (i) => states.push(i.state) });
    const t0 = Date.now();
    const info = await s.start();
    assert.ok(Date.now() - t0 >= 1000, "ready only once the health path answered below 500");
    assert.equal(info.state, "running");
    const t1 = Date.now();
    await s.stop();
    assert.ok(Date.now() - t1 >= 700, "it was given the grace period");
    assert.equal(await canConnect(info.port!), false);
    assert.deepEqual(await processesUnder(scratch), []);
    assert.match(await fs.readFile(path.join(dir, "stubborn.log"), "utf8"), /stopped \(killed by SIGKILL\)/);
    assert.deepEqual(states, ["starting", "running", "stopped"]);
  });

  test("a service that keeps crashing is restarted with backoff a bounded number of times, then failed", { skip, timeout: 30_000 }, async () => {
    const binary = await script(
      "crashy.py",
      `import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen()
time.sleep(0.3)
raise SystemExit(3)
`,
    );
    const scratch = path.join(dir, "crashy");
    const s = new Supervisor({ binary, scratch, sandboxed: false, logFile: path.join(dir, "crashy.log"), maxRestarts: 2 });
    await s.start();
    const t0 = Date.now();
    const failed = await waitFor("the supervisor to give up", async () => s.info().state === "failed" && s.info(), 20_000, 100);
    assert.equal(failed.restarts, 2);
    assert.ok(Date.now() - t0 >= 1500, "backoff: 500 ms, then 1000 ms");
    const logText = await fs.readFile(path.join(dir, "crashy.log"), "utf8");
    assert.match(logText, /exited \(exit code 3\)/);
    assert.match(logText, /gave up after 2 failed restarts/);
    assert.deepEqual(await processesUnder(scratch), []);
    await s.stop();
    assert.equal(s.info().state, "failed", "stopping a failed service keeps it failed");
  });
});

describe("a server that dies without stopping its service", () => {
  test("the next server ends the orphaned copy before starting the service again", { timeout: 180_000 }, async () => {
    // Unsandboxed, a service outlives a server killed outright (bwrap's --die-with-parent
    // covers the sandboxed case).
    const env = (await testEnv({ FLAKEBOT_SANDBOX: "off" })).env;
    const home = env.FLAKEBOT_HOME;
    const scratch = path.join(home, "tools", "kv2", "scratch");
    let first: Connected | undefined = await connect(env);
    let second: Connected | undefined;
    try {
      const r = await first.call("craft_tool", { instructions: "kv", source: kvstore, name: "kv2", kind: "service", wait_seconds: 150 });
      assert.equal(r.structured.status, "ready", textOf(r));
      await first.call("kv2", { method: "PUT", path: "/kv/a", body: "1" });
      process.kill(first.pid()!, "SIGKILL");
      await first.close();
      first = undefined;
      const orphans = await processesUnder(scratch);
      assert.equal(orphans.length, 1, "the orphan is still running");
      second = await connect(env);
      const d = await waitFor("the service to run again", async () => {
        const x = (await second!.call("describe_tool", { name: "kv2" })).structured;
        return x.service?.state === "running" && x;
      }, 30_000, 200);
      const now = await processesUnder(scratch);
      assert.equal(now.length, 1, `one copy runs: ${JSON.stringify(now)}`);
      assert.notEqual(now[0].pid, orphans[0].pid, "the orphan was ended");
      assert.equal((await second.call("kv2", { path: "/kv/a" })).structured.body, "1");
      assert.ok(d.log_tail.length > 0);
      // The command line disposes of it while the server runs it: the server does not restart it.
      const port = Number(new URL(d.service.url).port);
      const cli = await runProcess([process.execPath, serverEntry, "dispose", "kv2"], { cwd: path.dirname(home), env, timeoutMs: 30_000 });
      assert.equal(cli.exitCode, 0, cli.stderr);
      assert.match(cli.stdout, /service process\(es\) run by another Flakebot process/);
      await new Promise((r) => setTimeout(r, 1500)); // past the first restart's backoff
      assert.deepEqual(await processesUnder(scratch), []);
      assert.equal(await canConnect(port), false);
      const after = await second.call("kv2", { path: "/kv/a" });
      assert.equal(after.isError, true);
    } finally {
      await first?.close();
      await second?.close();
      await fs.rm(path.dirname(home), { recursive: true, force: true });
    }
  });
});

describe("a service whose binary changes while it runs", () => {
  test("its restart verifies the binary again: a swapped one is never run, the tool is quarantined and says why", { timeout: 180_000 }, async () => {
    const tenv = await testEnv({ FLAKEBOT_SANDBOX: "off" });
    const scratch = path.join(tenv.home, "tools", "kv3", "scratch");
    const marker = path.join(tenv.dir, "swapped-binary-ran");
    const s = await connect(tenv.env);
    try {
      const r = await s.call("craft_tool", { instructions: "kv", source: kvstore, name: "kv3", kind: "service", wait_seconds: 150 });
      assert.equal(r.structured.status, "ready", textOf(r));
      // Someone with write access to the build swaps the binary (a rename over it, as a running file cannot be written).
      const binary: string = r.structured.build.binary;
      const swap = `${binary}.swap`;
      await fs.writeFile(swap, `#!/bin/sh\necho ran > '${marker}'\nexec sleep 600\n`, { mode: 0o755 });
      await fs.rename(swap, binary);
      await s.call("kv3", { method: "POST", path: "/crash" });
      const d = await waitFor("the restart to be refused", async () => {
        const x = await s.call("describe_tool", { name: "kv3" });
        return x.isError && x;
      }, 30_000, 200);

      assert.match(textOf(d), /"kv3" is quarantined: its manifest does not verify \(its binary .* does not match the sha256 recorded when it was crafted\)/);
      await new Promise((done) => setTimeout(done, 1500)); // past a second restart's backoff
      assert.equal(existsSync(marker), false, "the swapped binary never ran");
      assert.deepEqual(await processesUnder(scratch), []);
      const call = await s.call("kv3", { path: "/kv/a" });
      assert.equal(call.isError, true);
      assert.ok(!(await s.client.listTools()).tools.some((x) => x.name === "kv3"), "the tool is unregistered");
      const log = await fs.readFile(path.join(tenv.home, "tools", "kv3", "build.log"), "utf8");
      assert.match(log, /== service: not restarted: "kv3" is quarantined/);
      const cli = await runProcess([process.execPath, serverEntry, "list", "--json"], { cwd: tenv.dir, env: tenv.env, timeoutMs: 30_000 });
      assert.deepEqual(JSON.parse(cli.stdout).map((x: { tool: string; status: string }) => [x.tool, x.status]), [["kv3", "quarantined"]]);
    } finally {
      await s.close();
      await fs.rm(tenv.dir, { recursive: true, force: true });
    }
  });
});
