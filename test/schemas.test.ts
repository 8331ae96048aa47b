// The contract's tool schemas, as clients see them: the four meta tools are snapshot-tested
// (a contract change shows as a diff in test/__toolsnaps__), and every tool, crafted ones
// included, passes the MCP Inspector CLI's strict schema-portability check.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { existsSync } from "node:fs";
import { connect, type Connected } from "./helpers/client.js";
import { fixturesDir, repoRoot, serverEntry, testEnv, type TestEnv } from "./helpers/offline.js";
import { inspector, inspectorMissing, node22 } from "./helpers/inspector.js";
import { runProcess } from "../src/exec/process.js";

const snapsDir = path.join(repoRoot, "test", "__toolsnaps__");
const META = ["craft_tool", "describe_tool", "invoke_tool", "dispose_tool"];

let t: TestEnv;
let c: Connected;

before(async () => {
  t = await testEnv();
  c = await connect(t.env);
});

after(async () => {
  await c?.close();
});

test("the meta tools' schemas and annotations match their snapshots", async () => {
  const { tools } = await c.client.listTools();
  for (const name of META) {
    const tool = tools.find((x) => x.name === name);
    assert.ok(tool, `${name} is listed`);
    const snap = { name, inputSchema: tool.inputSchema, outputSchema: tool.outputSchema, annotations: tool.annotations };
    const file = path.join(snapsDir, `${name}.json`);
    if (process.env.UPDATE_TOOLSNAPS === "1" || !existsSync(file)) {
      await fs.mkdir(snapsDir, { recursive: true });
      await fs.writeFile(file, JSON.stringify(snap, null, 2) + "\n");
    }
    const expected = JSON.parse(await fs.readFile(file, "utf8"));
    assert.deepEqual(snap, expected, `${name} changed: if the contract changed on purpose, run UPDATE_TOOLSNAPS=1 npm test and commit the diff`);
  }
});

test("annotations say what each meta tool does", async () => {
  const { tools } = await c.client.listTools();
  const ann = (n: string) => tools.find((x) => x.name === n)!.annotations!;
  assert.equal(ann("describe_tool").readOnlyHint, true);
  assert.equal(ann("dispose_tool").destructiveHint, true);
  assert.equal(ann("craft_tool").openWorldHint, true);
  assert.equal(ann("invoke_tool").readOnlyHint, false);
});


test("every tool, a crafted one included, passes the Inspector's strict schema check", { timeout: 180_000, skip: inspectorMissing }, async () => {
  const crafted = await c.call("craft_tool", { instructions: "upper case", source: path.join(fixturesDir, "crates", "hello"), name: "upper", wait_seconds: 120 });
  assert.equal(crafted.structured.status, "ready");
  const envArgs = Object.entries(t.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const r = await runProcess([node22, inspector, "--cli", process.execPath, serverEntry, ...envArgs, "--method", "tools/list", "--strict"], {
    cwd: t.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: t.dir },
    timeoutMs: 120_000,
  });
  assert.equal(r.exitCode, 0, r.stderr);
  const listed = JSON.parse(r.stdout) as { tools: { name: string }[] };
  assert.deepEqual(listed.tools.map((x) => x.name).sort(), [...META, "upper"].sort());
  const report = r.stderr.split("\n").filter((l) => !l.startsWith("flakebot "));
  assert.ok(!report.some((l) => /^(Warning|Error)\b/.test(l)), `strict check findings:\n${report.join("\n")}`);
});
