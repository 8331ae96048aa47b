// Issue 15: without `name`, the tool is named after the crate or binary. A craft with only
// instructions gets a provisional name at once (craft_tool may return before discovery), is
// renamed after the binary of the crate discovery chose, and its first name keeps working
// (describe, invoke, dispose, the command line) until the tool is disposed. Through the
// real MCP server, with crates.io and GitHub as local stand-ins.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { serverEntry, testEnv, type TestEnv } from "./helpers/offline.js";
import { waitFor } from "./helpers/procs.js";
import { runProcess } from "../src/exec/process.js";
import { startCratesIo, type CratesIoStandIn } from "./fixtures/far-ends/cratesio.js";
import { duoUpstream, hexCatalogue } from "./fixtures/far-ends/upstreams.js";

// Matches duo-cli ("Counts the words of its standard input"), whose one binary is "duo".
const INSTRUCTIONS = "count the words of standard input";
const PROVISIONAL = "count_words_standard";

let t: TestEnv;
let crates: CratesIoStandIn;
let c: Connected;

before(async () => {
  t = await testEnv();
  const reposRoot = path.join(t.dir, "repos");
  await duoUpstream(reposRoot);
  await fs.appendFile(t.env.GIT_CONFIG_GLOBAL, `[url "file://${reposRoot}/"]\n\tinsteadOf = https://github.com/\n`);
  crates = await startCratesIo(hexCatalogue());
  t.env.FLAKEBOT_CRATES_IO_URL = crates.url;
  c = await connect(t.env);
});

after(async () => {
  await c?.close();
  await crates?.close();
});

const toolNames = async () => (await c.client.listTools()).tools.map((x) => x.name);
const toolDirs = async () => (await fs.readdir(path.join(t.home, "tools"))).sort();

describe("a craft without a name is named after the crate discovery chose", () => {
  test("the provisional name first, then the binary's name; the first name keeps working", { timeout: 300_000 }, async () => {
    const started = await c.call("craft_tool", { instructions: INSTRUCTIONS, wait_seconds: 0 });
    assert.equal(started.isError, undefined, textOf(started));
    assert.equal(started.structured.status, "building");
    assert.equal(started.structured.tool, PROVISIONAL);

    const changes = c.listChanges();
    const progress: string[] = [];
    const done = await c.call("describe_tool", { name: PROVISIONAL, wait_seconds: 300 }, { onprogress: (p) => progress.push(p.message ?? "") });
    assert.equal(done.structured.status, "ready", textOf(done));
    assert.equal(done.structured.tool, "duo", "named after duo-cli's binary, not the crate");
    assert.equal(done.structured.crate.name, "duo-cli");
    assert.deepEqual(Object.keys(done.structured.crate).sort(), ["name", "repository", "version"], "the result's crate keeps the contract's shape");
    assert.match(done.structured.message, new RegExp(`^"${PROVISIONAL}" was renamed "duo" after its crate`));
    assert.match(textOf(done), /^Tool "duo" is ready/);
    assert.ok(
      progress.some((m) => m.includes(`named "duo" after the crate duo-cli; "${PROVISIONAL}" stays another name`)),
      `the waiting client was told of the rename: ${progress.join(" | ")}`,
    );
    // one build log, moved with the tool: the lines from before the rename are in it
    assert.ok(done.structured.log_tail.some((l: string) => /^== ready: /.test(l)));
    const log = await fs.readFile(path.join(t.home, "tools", "duo", "build.log"), "utf8");
    assert.match(log, /== plan: /);
    assert.match(log, /discover: chose duo-cli 0\.3\.0/);

    await waitFor("tools/list_changed", async () => c.listChanges() > changes);
    const names = await toolNames();
    assert.ok(names.includes("duo"), names.join(","));
    assert.ok(!names.includes(PROVISIONAL), "the alias is not a tool");
    assert.deepEqual(await toolDirs(), ["count_words_standard", "duo"]);

    const byName = await c.call("duo", { stdin: "one two three\n" });
    assert.equal(byName.structured.stdout, "3\n");
    const byAlias = await c.call("invoke_tool", { name: PROVISIONAL, stdin: "one two\n" });
    assert.equal(byAlias.isError, undefined, textOf(byAlias));
    assert.equal(byAlias.structured.stdout, "2\n");
    assert.match(byAlias.structured.note, /was renamed "duo"/);
    const described = await c.call("describe_tool", { name: "duo" });
    assert.doesNotMatch(described.structured.message, /renamed/, "called by its own name, no note");

    // another process on the same state directory resolves the alias too
    const cli = await runProcess([process.execPath, serverEntry, "describe", PROVISIONAL, "--json"], { cwd: t.dir, env: t.env, timeoutMs: 60_000 });
    assert.equal(cli.exitCode, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).tool, "duo");
    const list = await runProcess([process.execPath, serverEntry, "list"], { cwd: t.dir, env: t.env, timeoutMs: 60_000 });
    assert.match(list.stdout, /^duo\s+ready\s+duo-cli\s/m);
    assert.doesNotMatch(list.stdout, new RegExp(PROVISIONAL));
  });

  test("a second craft of the same crate is duo_2; the alias keeps its provisional name from being taken", { timeout: 300_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: INSTRUCTIONS, wait_seconds: 300 });
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.tool, "duo_2");
    assert.match(r.structured.message, new RegExp(`^"${PROVISIONAL}_2" was renamed "duo_2"`), "its provisional name skipped the alias");
    assert.equal(r.structured.build.cached, true);
    const taken = await c.call("craft_tool", { instructions: INSTRUCTIONS, name: PROVISIONAL, crate: "duo-cli", wait_seconds: 0 });
    assert.equal(taken.isError, true);
    assert.match(textOf(taken), new RegExp(`"${PROVISIONAL}" is another name of the tool "duo"`));
  });

  test("an explicit name is never renamed", { timeout: 300_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: INSTRUCTIONS, name: "word_count", wait_seconds: 300 });
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.tool, "word_count");
    assert.equal(r.structured.crate.name, "duo-cli");
    assert.doesNotMatch(r.structured.message, /renamed/);
    await c.call("dispose_tool", { name: "word_count" });
  });

  test("dispose through the first name removes the tool and frees both names", { timeout: 300_000 }, async () => {
    const d = await c.call("dispose_tool", { name: PROVISIONAL });
    assert.equal(d.isError, undefined, textOf(d));
    assert.equal(d.structured.disposed, "duo");
    assert.ok(d.structured.removed.includes(`the name "${PROVISIONAL}" (another name of "duo")`), d.structured.removed.join("\n"));
    for (const gone of [PROVISIONAL, "duo"]) {
      const r = await c.call("describe_tool", { name: gone });
      assert.equal(r.isError, true, gone);
    }
    assert.ok(!(await toolNames()).includes("duo"));
    assert.deepEqual(await toolDirs(), [`${PROVISIONAL}_2`, "duo_2"], "the other craft and its alias are untouched");
    assert.equal((await c.call("describe_tool", { name: `${PROVISIONAL}_2` })).structured.tool, "duo_2");

    // both names are free: the same craft again gets them back
    const again = await c.call("craft_tool", { instructions: INSTRUCTIONS, wait_seconds: 300 });
    assert.equal(again.structured.status, "ready", textOf(again));
    assert.equal(again.structured.tool, "duo");
    assert.match(again.structured.message, new RegExp(`^"${PROVISIONAL}" was renamed "duo"`));
  });
});
