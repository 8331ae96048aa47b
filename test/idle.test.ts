// FLAKEBOT_IDLE_DISPOSE: tools not called for the configured time are disposed, at start-up
// and periodically; a tool called recently is kept. Manifests are written as a crafted
// tool's would be (its binary is a copy of /bin/echo in builds/), so the real server registers and runs them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { connect, textOf } from "./helpers/client.js";
import { fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { waitFor } from "./helpers/procs.js";
import { loadConfig } from "../src/config.js";
import { Flakebot } from "../src/app.js";
import { checkEveryMs, disposeIdle, isIdle } from "../src/state/idle.js";
import type { Craft } from "../src/model/craft.js";
import { fileSha256 } from "../src/schema/definition.js";

const HOUR = 3600_000;
let t: TestEnv;

before(async () => {
  t = await testEnv();
});

after(async () => {
  if (t) await fs.rm(t.dir, { recursive: true, force: true });
});

function manifest(name: string, createdAgoMs: number, usedAgoMs?: number): Craft {
  const at = (ago: number) => new Date(Date.now() - ago).toISOString();
  return {
    schema: 1,
    name,
    status: "ready",
    stage: "register",
    message: "ready",
    request: { instructions: "echo its arguments", modify: "never", kind: "command" },
    created_at: at(createdAgoMs),
    updated_at: at(createdAgoMs),
    ...(usedAgoMs !== undefined ? { last_used_at: at(usedAgoMs) } : {}),
    build: { backend: "cargo", reproducible: false, binary: "/bin/echo", duration_ms: 0, key: `test-${name}` },
    sandboxed: false,
  };
}

async function writeManifests(home: string, crafts: Craft[]): Promise<void> {
  for (const c of crafts) {
    // As the cargo backend leaves a build: the binary copied into builds/, its hash recorded.
    const binary = path.join(home, "builds", c.build!.key, "bin", "echo");
    await fs.mkdir(path.dirname(binary), { recursive: true });
    await fs.copyFile(c.build!.binary, binary);
    const built: Craft = { ...c, build: { ...c.build!, binary }, binary_sha256: await fileSha256(binary) };
    const dir = path.join(home, "tools", c.name);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "manifest.json"), JSON.stringify(built));
  }
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

test("isIdle counts from the last call, or from creation when never called; a craft building is never idle", () => {
  const now = Date.now();
  assert.equal(isIdle(manifest("a", 2 * HOUR), HOUR, now), true);
  assert.equal(isIdle(manifest("b", 2 * HOUR, 10_000), HOUR, now), false);
  assert.equal(isIdle(manifest("c", 10_000), HOUR, now), false);
  assert.equal(isIdle({ ...manifest("d", 2 * HOUR), status: "building" }, HOUR, now), false);
  assert.equal(isIdle({ ...manifest("e", 2 * HOUR), status: "failed" }, HOUR, now), true);
  assert.equal(checkEveryMs(2000), 1000);
  assert.equal(checkEveryMs(7 * 24 * HOUR), 600_000);
});

test("disposeIdle removes the unused tool and keeps the used one", async () => {
  const home = path.join(t.dir, "direct-home");
  await writeManifests(home, [manifest("stale", 2 * HOUR), manifest("busy", 2 * HOUR, 60_000)]);
  const app = new Flakebot(loadConfig({ ...t.env, FLAKEBOT_HOME: home }));
  await app.start();
  assert.deepEqual(await disposeIdle(app, HOUR), ["stale"]);
  assert.equal(await exists(path.join(home, "tools", "stale")), false);
  assert.equal(await exists(path.join(home, "tools", "busy", "manifest.json")), true);
  await app.close();
});

test("the server disposes idle tools at start-up and keeps used ones callable", { timeout: 30_000 }, async () => {
  const home = path.join(t.dir, "startup-home");
  await writeManifests(home, [manifest("stale", 3 * HOUR), manifest("busy", 3 * HOUR, 5 * 60_000)]);
  const c = await connect({ ...t.env, FLAKEBOT_HOME: home, FLAKEBOT_IDLE_DISPOSE: "2h" });
  try {
    const names = (await c.client.listTools()).tools.map((x) => x.name);
    assert.ok(names.includes("busy"), "the used tool is registered");
    assert.ok(!names.includes("stale"), "the idle tool is not");
    assert.equal(await exists(path.join(home, "tools", "stale")), false);
    const r = await c.call("busy", { args: ["still", "here"] });
    assert.equal(r.structured.stdout, "still here\n", textOf(r));
    const d = await c.call("describe_tool", { name: "busy" });
    assert.ok(Date.now() - Date.parse(d.structured.last_used_at) < 60_000, "the call recorded its time");
  } finally {
    await c.close();
  }
});

test("periodically: a crafted tool left unused for FLAKEBOT_IDLE_DISPOSE=2s is disposed", { timeout: 120_000 }, async () => {
  const home = path.join(t.dir, "periodic-home");
  const c = await connect({ ...t.env, FLAKEBOT_HOME: home, FLAKEBOT_IDLE_DISPOSE: "2s" });
  try {
    const r = await c.call("craft_tool", { instructions: "upper case", source: path.join(fixturesDir, "crates", "hello"), name: "shortlived", wait_seconds: 100 });
    assert.equal(r.structured.status, "ready", textOf(r));
    const changes = c.listChanges();
    await waitFor("idle disposal", async () => !(await exists(path.join(home, "tools", "shortlived"))), 15_000, 200);
    await waitFor("tools/list_changed", async () => c.listChanges() > changes);
    const names = (await c.client.listTools()).tools.map((x) => x.name);
    assert.ok(!names.includes("shortlived"));
    const gone = await c.call("describe_tool", { name: "shortlived" });
    assert.equal(gone.isError, true);
  } finally {
    await c.close();
  }
});
