// The command line on the same state directory as the server: craft, list, describe, run,
// dispose, with exit codes a script can rely on.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { fixturesDir, serverEntry, testEnv, type TestEnv } from "./helpers/offline.js";
import { runProcess } from "../src/exec/process.js";
import { connect } from "./helpers/client.js";

let t: TestEnv;
const flakebot = (args: string[], stdin?: string) =>
  runProcess([process.execPath, serverEntry, ...args], { cwd: t.dir, env: t.env, stdin, timeoutMs: 300_000 });

before(async () => {
  t = await testEnv();
});

test("craft --source shows progress on stderr and prints the usage; --json prints the result", { timeout: 300_000 }, async () => {
  const r = await flakebot(["craft", "print text in upper case", "--source", path.join(fixturesDir, "crates", "hello"), "--name", "up", "--json"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, "ready");
  assert.equal(result.tool, "up");
  assert.match(r.stderr, /up build: /, "progress lines on stderr when it is not a terminal");
});

test("list, describe and run see the tool; the server sees it too", async () => {
  const list = await flakebot(["list"]);
  assert.equal(list.exitCode, 0);
  assert.match(list.stdout, /^NAME\s+STATUS\s+CRATE\s+VERSION\s+BACKEND\s+SANDBOXED\s+CREATED\s+LAST USED/m);
  assert.match(list.stdout, /^up\s+ready\s+hello-upper\s+0\.1\.0\s+cargo\s+no\s/m);
  const describe = await flakebot(["describe", "up"]);
  assert.match(describe.stdout, /status\s+ready/);
  assert.match(describe.stdout, /backend\s+cargo \(not reproducible: cargo fallback\)/);
  const run = await flakebot(["run", "up", "--", "a;b", "$HOME"]);
  assert.equal(run.exitCode, 0);
  assert.equal(run.stdout, "A;B $HOME\n");
  const piped = await flakebot(["run", "up"], "from stdin\n");
  assert.equal(piped.stdout, "FROM STDIN\n");
  const c = await connect(t.env);
  try {
    const r = await c.call("up", { args: ["shared"] });
    assert.equal(r.structured.stdout, "SHARED\n");
  } finally {
    await c.close();
  }
});

test("list shows a quarantined tool, with its state and why, in the table and in --json", { timeout: 300_000 }, async () => {
  const crafted = await flakebot(["craft", "print text in upper case", "--source", path.join(fixturesDir, "crates", "hello"), "--name", "tampered"]);
  assert.equal(crafted.exitCode, 0, crafted.stderr);
  // A hand-edited manifest: its binary no longer matches the hash it records.
  const manifest = path.join(t.home, "tools", "tampered", "manifest.json");
  const record = JSON.parse(await fs.readFile(manifest, "utf8"));
  await fs.writeFile(manifest, JSON.stringify({ ...record, binary_sha256: "0".repeat(64) }));

  const json = await flakebot(["list", "--json"]);
  assert.equal(json.exitCode, 0, json.stderr);
  const listed = JSON.parse(json.stdout) as Record<string, string>[];
  assert.deepEqual(listed.map((x) => [x.tool, x.status]), [["tampered", "quarantined"], ["up", "ready"]]);
  const q = listed[0];
  assert.match(q.reason, /does not match the sha256 recorded when it was crafted/);
  assert.match(q.message, /"tampered" is quarantined: .*dispose it/);

  const table = await flakebot(["list"]);
  assert.match(table.stdout, /^tampered\s+quarantined\s+-/m);
  assert.match(table.stdout, /^up\s+ready\s/m);
  assert.match(table.stdout, /^tampered {2}quarantined: its binary .* does not match the sha256/m);
  assert.equal((await flakebot(["dispose", "tampered"])).exitCode, 0);
});

test("bad usage exits 2, failures exit 1 with a message, dispose removes the tool", async () => {
  const usage = await flakebot(["craft"]);
  assert.equal(usage.exitCode, 2);
  assert.match(usage.stderr, /expected exactly one instructions argument/);
  const unknown = await flakebot(["run", "nope"]);
  assert.equal(unknown.exitCode, 1);
  assert.match(unknown.stderr, /no crafted tool or craft named "nope"/);
  const dispose = await flakebot(["dispose", "up"]);
  assert.equal(dispose.exitCode, 0);
  assert.match(dispose.stdout, /disposed up/);
  const list = await flakebot(["list"]);
  assert.match(list.stdout, /no crafted tools/);
});
