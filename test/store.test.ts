// The state directory's aliases: a craft named only by its instructions is renamed after
// the crate discovery chose, and its first name stays an alias. What another process sees
// of it (a second Store on the same home), what it blocks, and what removes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { Store } from "../src/state/store.js";
import { ToolLog } from "../src/state/tool-log.js";
import type { Craft } from "../src/model/craft.js";
import { tempDir } from "./helpers/offline.js";

function record(name: string): Craft {
  const now = new Date().toISOString();
  return { schema: 1, name, status: "building", message: "queued", request: { instructions: "count the words", modify: "never", kind: "command" }, created_at: now, updated_at: now };
}

/** A store with the craft `old` claimed, saved, and a line in its log. */
async function provisional(old = "count_words"): Promise<{ store: Store; home: string; log: ToolLog }> {
  const home = await tempDir("flakebot-store-");
  const store = new Store(home);
  await store.init();
  assert.equal(await store.claim(old), true);
  await store.save(record(old));
  const log = new ToolLog(store.paths(old).log);
  log.write("== plan: planning from the instructions");
  return { store, home, log };
}

async function renameTo(store: Store, from: string, to: string): Promise<void> {
  assert.equal(await store.claim(to), true);
  await store.rename(from, { ...record(to), renamed_from: from });
}

test("a rename moves the manifest and the log; the old name becomes an alias another process sees", async () => {
  const { store, home, log } = await provisional();
  await renameTo(store, "count_words", "duo");
  log.moveTo(store.paths("duo").log);
  log.write("== acquire: getting the source");
  await log.close();

  const other = new Store(home); // another process on the same state directory
  assert.equal(await other.aliasOf("count_words"), "duo");
  assert.equal(await other.aliasOf("duo"), undefined);
  assert.equal((await other.load("duo"))?.name, "duo");
  assert.equal((await other.load("duo"))?.renamed_from, "count_words");
  assert.equal(await other.load("count_words"), undefined, "no manifest is left under the old name");
  const listed = await other.list();
  assert.deepEqual(listed.crafts.map((c) => c.name), ["duo"], "an alias is not a tool");
  assert.deepEqual(listed.aliases, [{ name: "count_words", to: "duo" }]);
  assert.deepEqual(listed.orphans, []);
  // one log, under the new name, with the lines from before and after the move
  assert.equal(await fs.readFile(store.paths("duo").log, "utf8"), "== plan: planning from the instructions\n== acquire: getting the source\n");
  assert.deepEqual(await fs.readdir(store.paths("count_words").dir), ["alias.json"]);
});

test("while the alias lives, no craft can claim the old name, in this process or another", async () => {
  const { store, home } = await provisional();
  await renameTo(store, "count_words", "duo");
  assert.equal(await store.claim("count_words"), false);
  assert.equal(await new Store(home).claim("count_words"), false);
  assert.equal(await store.claim("duo"), false);
});

test("removing the tool removes its aliases and frees both names", async () => {
  const { store, home } = await provisional();
  await renameTo(store, "count_words", "duo");
  assert.deepEqual(await store.remove("duo"), ["count_words"]);
  assert.deepEqual(await fs.readdir(path.join(home, "tools")), []);
  assert.equal(await store.aliasOf("count_words"), undefined);
  assert.equal(await store.claim("count_words"), true);
  assert.equal(await store.claim("duo"), true);
});

test("removing a tool keeps the aliases of other tools", async () => {
  const { store } = await provisional("first_words");
  await renameTo(store, "first_words", "duo");
  assert.equal(await store.claim("second_words"), true);
  await store.save(record("second_words"));
  await renameTo(store, "second_words", "duo_2");
  assert.deepEqual(await store.remove("duo_2"), ["second_words"]);
  assert.equal(await store.aliasOf("first_words"), "duo");
});

test("start-up removes an alias whose tool is gone (a crash in the middle of a dispose)", async () => {
  const { store, home } = await provisional();
  await renameTo(store, "count_words", "duo");
  await fs.rm(store.paths("duo").dir, { recursive: true });
  await new Store(home).init();
  assert.equal(await store.aliasOf("count_words"), undefined);
  assert.equal(await store.claim("count_words"), true, "the old name is free again");
});

test("a rename that cannot be written leaves the old name as it was", async () => {
  const { store } = await provisional();
  // "duo" was never claimed: its manifest cannot be written
  await assert.rejects(store.rename("count_words", record("duo")), { code: "ENOENT" });
  assert.equal(await store.aliasOf("count_words"), undefined);
  assert.equal((await store.load("count_words"))?.name, "count_words");
  assert.deepEqual((await fs.readdir(store.paths("count_words").dir)).sort(), ["build.log", "manifest.json"]);
});

test("an alias note naming no valid tool is no alias", async () => {
  const { store } = await provisional();
  for (const to of ["../escape", "count_words", "", 7]) {
    await fs.writeFile(path.join(store.paths("count_words").dir, "alias.json"), JSON.stringify({ to }));
    assert.equal(await store.aliasOf("count_words"), undefined, JSON.stringify(to));
  }
});
