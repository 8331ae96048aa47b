// Faults the server must survive with nothing lost: a corrupt manifest, a read-only
// FLAKEBOT_HOME, and many crafts, invokes and disposes at once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { findBwrap } from "../src/exec/sandbox.js";
import { runProcess } from "../src/exec/process.js";

const hello = path.join(fixturesDir, "crates", "hello");
let t: TestEnv;
let c: Connected;

before(async () => {
  t = await testEnv({ FLAKEBOT_SANDBOX: "auto" });
  c = await connect(t.env);
  const r = await c.call("craft_tool", { instructions: "upper", source: hello, name: "good", wait_seconds: 240 });
  assert.equal(r.structured.status, "ready", textOf(r));
});

after(async () => {
  await c?.close();
});

test("a corrupt manifest: a clear error for that tool, the others keep working, nothing else deleted", async () => {
  await fs.mkdir(path.join(t.home, "tools", "bad"));
  await fs.writeFile(path.join(t.home, "tools", "bad", "manifest.json"), '{"schema": 1, "name": "bad", "status": "rea');
  await c.close();
  c = await connect(t.env);
  const names = (await c.client.listTools()).tools.map((x) => x.name);
  assert.ok(names.includes("good") && !names.includes("bad"));
  assert.match(c.stderr(), /"bad" skipped: .*corrupt manifest/);
  const d = await c.call("describe_tool", { name: "bad" });
  assert.equal(d.isError, true);
  assert.match(textOf(d), /not valid JSON.*dispose the tool/);
  const ok = await c.call("good", { args: ["fine"] });
  assert.equal(ok.structured.stdout, "FINE\n");
  const gone = await c.call("dispose_tool", { name: "bad" });
  assert.equal(gone.isError, undefined, textOf(gone));
  await assert.rejects(fs.access(path.join(t.home, "tools", "bad")));
  assert.ok((await fs.readdir(path.join(t.home, "tools"))).includes("good"));
});

test("a read-only FLAKEBOT_HOME: built tools still run, crafting says why it cannot", { timeout: 60_000, skip: findBwrap() ? false : "bwrap (used to mount the home read-only) is not installed" }, async () => {
  await c.close();
  // A real read-only mount of the home, made for the server alone with bubblewrap.
  c = await connect(t.env, [], ["bwrap", "--dev-bind", "/", "/", "--ro-bind", t.home, t.home, "--"]);
  try {
    const ok = await c.call("good", { args: ["still"] });
    assert.equal(ok.structured.stdout, "STILL\n", JSON.stringify(ok.structured));
    const r = await c.call("craft_tool", { instructions: "x", source: hello, name: "another", wait_seconds: 10 });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /cannot be written \(EROFS\)/);
  } finally {
    await c.close();
    c = await connect(t.env);
  }
  const manifest = JSON.parse(await fs.readFile(path.join(t.home, "tools", "good", "manifest.json"), "utf8"));
  assert.equal(manifest.status, "ready", "nothing was lost");
});

test("a full disk mid-craft: the craft fails saying so, the server goes on answering", { timeout: 120_000, skip: findBwrap() ? false : "bwrap (used to mount a tiny FLAKEBOT_HOME) is not installed" }, async () => {
  const tiny = path.join(t.dir, "tiny-home");
  await fs.mkdir(tiny);
  // A 256 KiB tmpfs as the whole state directory, made for this server alone: the source
  // fits, cargo's build output does not.
  const full = await connect({ ...t.env, FLAKEBOT_HOME: tiny }, [], ["bwrap", "--dev-bind", "/", "/", "--size", String(256 * 1024), "--tmpfs", tiny, "--"]);
  try {
    const r = await full.call("craft_tool", { instructions: "upper", source: hello, name: "nospace", wait_seconds: 120 });
    assert.equal(r.isError, true);
    assert.equal(r.structured.status, "failed");
    assert.match(r.structured.error, /No space left on device|ENOSPC/);
    const d = await full.call("describe_tool", { name: "nospace" });
    assert.equal(d.structured.status, "failed", "the failure was recorded and the server still answers");
    const gone = await full.call("dispose_tool", { name: "nospace" });
    assert.equal(gone.isError, undefined, textOf(gone));
  } finally {
    await full.close();
  }
});

test("8 crafts and 50 invokes at once: every call answered, state consistent, dispose during an invoke", { timeout: 600_000 }, async () => {
  const crates: string[] = [];
  for (let i = 0; i < 8; i++) {
    const dir = path.join(t.dir, `variant${i}`);
    await fs.cp(hello, dir, { recursive: true });
    // a distinct tree each, so the build cache cannot answer
    await fs.appendFile(path.join(dir, "src", "main.rs"), `\n// variant ${i}\n`);
    crates.push(dir);
  }
  const crafts = crates.map((dir, i) => c.call("craft_tool", { instructions: "upper", source: dir, name: `many_${i}`, wait_seconds: 600 }));
  const invokes = Array.from({ length: 50 }, (_, i) => c.call("invoke_tool", { name: "good", args: [`call ${i}`] }));
  const invoked = await Promise.all(invokes);
  invoked.forEach((r, i) => assert.equal(r.structured.stdout, `CALL ${i}\n`));
  const crafted = await Promise.all(crafts);
  for (const r of crafted) assert.equal(r.structured.status, "ready", textOf(r));
  const keys = new Set(crafted.map((r) => r.structured.build.binary));
  assert.equal(keys.size, 8, "eight distinct builds");

  // dispose while a call is running: the call ends, the dispose succeeds, nothing is left
  const running = c.call("invoke_tool", { name: "many_0", stdin: "x".repeat(10), timeout_ms: 20_000 });
  const disposed = await c.call("dispose_tool", { name: "many_0" });
  assert.equal(disposed.isError, undefined, textOf(disposed));
  await running;
  await Promise.all(Array.from({ length: 7 }, (_, i) => c.call("dispose_tool", { name: `many_${i + 1}` })));
  assert.deepEqual(await fs.readdir(path.join(t.home, "tools")), ["good"]);
  const builds = await fs.readdir(path.join(t.home, "builds"));
  assert.equal(builds.length, 1, "only the build of the remaining tool is kept");
});

test("a server started on a full disk refuses crafts saying so, crafts once space returns (no restart), and leaves no temp files", { timeout: 300_000, skip: process.getuid?.() === 0 ? false : "mounting a tmpfs needs root" }, async () => {
  const full = path.join(t.dir, "full-home");
  await fs.mkdir(full);
  const mount = await runProcess(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", full], { cwd: t.dir, env: t.env });
  assert.equal(mount.exitCode, 0, mount.stderr);
  const s = await connect({ ...t.env, FLAKEBOT_HOME: full }).catch(async (err) => {
    await runProcess(["umount", full], { cwd: t.dir, env: t.env });
    throw err;
  });
  try {
    await s.close();
    // Everything but a few bytes taken, as a filling disk leaves it.
    const filler = path.join(full, "filler");
    await fs.writeFile(filler, Buffer.alloc(64 * 1024 * 1024)).catch((err) => assert.equal(err.code, "ENOSPC"));
    const server = await connect({ ...t.env, FLAKEBOT_HOME: full });
    try {
      const refused = await server.call("craft_tool", { instructions: "upper", source: hello, name: "after_full", wait_seconds: 10 });
      assert.equal(refused.isError, true);
      assert.match(textOf(refused), /cannot be written \(No space left on device, ENOSPC\): free some space/);
      await fs.rm(filler);
      const r = await server.call("craft_tool", { instructions: "upper", source: hello, name: "after_full", wait_seconds: 240 });
      assert.equal(r.structured.status, "ready", textOf(r));
      const ok = await server.call("after_full", { args: ["room"] });
      assert.equal(ok.structured.stdout, "ROOM\n");
    } finally {
      await server.close();
    }
    const leftovers = (await fs.readdir(full, { recursive: true })).filter((f) => String(f).endsWith(".tmp"));
    assert.deepEqual(leftovers, []);
  } finally {
    await runProcess(["umount", full], { cwd: t.dir, env: t.env });
  }
});
