// A tool's log (build output and a service's output) is capped and rotated: one current
// file and one rotated file, however much a chatty program writes; writing resumes after
// a failure (a full disk) without a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { ToolLog, LOG_CAP_BYTES } from "../src/state/tool-log.js";
import { tempDir } from "./helpers/offline.js";

test("a log written far past its cap keeps one current and one rotated file, each about the cap", async () => {
  const dir = await tempDir();
  const file = path.join(dir, "build.log");
  const cap = 256 * 1024;
  const log = new ToolLog(file, 200, cap);
  const line = "x".repeat(999);
  for (let i = 0; i < 5000; i++) log.write(`${i} ${line}`); // about 5 MB, 20 caps
  await log.close();
  assert.deepEqual((await fs.readdir(dir)).sort(), ["build.log", "build.log.1"]);
  for (const f of ["build.log", "build.log.1"]) {
    const { size } = await fs.stat(path.join(dir, f));
    assert.ok(size <= cap + 1100, `${f} is ${size} bytes`);
  }
  const last = (await fs.readFile(file, "utf8")).trim().split("\n").at(-1)!;
  assert.match(last, /^4999 x/, "the newest lines are kept");
  assert.equal(LOG_CAP_BYTES, 8 * 1024 * 1024);
  await fs.rm(dir, { recursive: true, force: true });
});

test("two writers of one log (a craft and its service) leave two files, bounded by the cap of each writer", async () => {
  const dir = await tempDir();
  const file = path.join(dir, "build.log");
  const cap = 64 * 1024;
  const a = new ToolLog(file, 10, cap);
  const b = new ToolLog(file, 10, cap);
  for (let i = 0; i < 2000; i++) {
    a.write(`a ${i} ${"a".repeat(500)}`);
    b.write(`b ${i} ${"b".repeat(500)}`);
  }
  await Promise.all([a.close(), b.close()]);
  assert.deepEqual((await fs.readdir(dir)).sort(), ["build.log", "build.log.1"]);
  const total = (await fs.stat(file)).size + (await fs.stat(`${file}.1`)).size;
  assert.ok(total <= 2 * 2 * cap + 2200, `${total} bytes in all, of ${2 * 2000 * 508} written`);
  await fs.rm(dir, { recursive: true, force: true });
});

test("a log that cannot be opened (as on a full disk) drops lines meanwhile and opens again on the next one", async () => {
  const dir = await tempDir();
  const file = path.join(dir, "build.log");
  await fs.mkdir(file); // opening it fails, as a full disk or a vanished directory fails
  const log = new ToolLog(file);
  log.write("lost: cannot be opened");
  await fs.rmdir(file);
  log.write("back");
  await log.close();
  assert.equal(await fs.readFile(file, "utf8"), "back\n");
  assert.deepEqual(log.lines(5), ["lost: cannot be opened", "back"], "the live tail kept both");
  await fs.rm(dir, { recursive: true, force: true });
});
