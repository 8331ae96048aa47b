// The helpers every reader and writer of a hostile tree uses (src/exec/safe-fs.ts), attacked
// with the links a source can commit: each check looks at the host file itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { copyTreeNoLinks, readRegularFile, regularFileInside, writeFileNoFollow } from "../src/exec/safe-fs.js";
import { writeFlakeFiles, flakeData } from "../src/backends/nix/flake-files.js";
import { runChecked } from "../src/exec/process.js";
import { tempDir } from "./helpers/offline.js";

async function hostile(): Promise<{ dir: string; tree: string; canary: string }> {
  const dir = await tempDir("flakebot-hostile-fs-");
  const canary = path.join(dir, "host-file");
  await fs.writeFile(canary, "host content\n");
  const tree = path.join(dir, "tree");
  await fs.mkdir(path.join(tree, "docs", "deep"), { recursive: true });
  return { dir, tree, canary };
}

test("generated flake files replace links a source committed, and never write through them", async () => {
  const { tree, canary } = await hostile();
  await fs.symlink(canary, path.join(tree, "flake.nix"));
  await fs.symlink(canary, path.join(tree, "flakebot.json"));
  const target = { package: "x", version: "0.1.0", bin: "x", dir: "", in_workspace: false, has_lockfile: true };
  await writeFlakeFiles(tree, flakeData(target, { root: "", subdir: "" }, ""));
  assert.equal(await fs.readFile(canary, "utf8"), "host content\n", "the host file was overwritten");
  for (const f of ["flake.nix", "flakebot.json"]) assert.equal((await fs.lstat(path.join(tree, f))).isFile(), true);
  assert.match(await fs.readFile(path.join(tree, "flake.nix"), "utf8"), /builtins\.fromJSON/);
  // A link on the way to the file is refused too.
  await fs.symlink(path.dirname(canary), path.join(tree, "out"));
  await assert.rejects(writeFileNoFollow(tree, "out/host-file", "x"), /symbolic link/);
  assert.equal(await fs.readFile(canary, "utf8"), "host content\n");
});

test("reads refuse links (to /proc/self/environ, out of the tree, on the way) and what is not a regular file", async () => {
  const { tree, canary } = await hostile();
  await fs.symlink("/proc/self/environ", path.join(tree, "flake.nix"));
  await fs.symlink(canary, path.join(tree, "README.md"));
  await fs.symlink("..", path.join(tree, "docs", "up"));
  await runChecked(["mkfifo", path.join(tree, "fifo")], { cwd: tree, env: { PATH: process.env.PATH! } });
  await fs.writeFile(path.join(tree, "docs", "ok.txt"), "fine\n");
  for (const rel of ["flake.nix", "README.md", "docs/up/docs/ok.txt", "../host-file"]) {
    await assert.rejects(readRegularFile(tree, rel), /symbolic link|leaves/, rel);
  }
  await assert.rejects(readRegularFile(tree, "fifo"), /not a regular file/, "a FIFO would block the server");
  assert.equal((await readRegularFile(tree, "docs/ok.txt")).toString(), "fine\n");
});

test("a build output is trusted only as a regular file reached without a link", async () => {
  const { tree, canary } = await hostile();
  await fs.mkdir(path.join(tree, "target", "release"), { recursive: true });
  await fs.writeFile(path.join(tree, "target", "release", "good"), "ELF");
  await fs.symlink(canary, path.join(tree, "target", "release", "bad"));
  assert.equal(await regularFileInside(tree, path.join(tree, "target", "release", "good")), path.join(await fs.realpath(tree), "target", "release", "good"));
  await assert.rejects(regularFileInside(tree, path.join(tree, "target", "release", "bad")), /symbolic link/);
  await fs.rm(path.join(tree, "target"), { recursive: true });
  await fs.symlink(path.dirname(canary), path.join(tree, "target"));
  await assert.rejects(regularFileInside(tree, path.join(tree, "target", "host-file")), /symbolic link/, "a target/ that is a link");
});

test("a source is copied without links out of it, even through chains of links inside it", async () => {
  const { dir, tree, canary } = await hostile();
  await fs.writeFile(path.join(tree, "Cargo.toml"), "[package]\n");
  await fs.symlink(canary, path.join(tree, "abs"));
  await fs.symlink("../host-file", path.join(tree, "rel-out"));
  await fs.symlink("../..", path.join(tree, "docs", "deep", "up"));
  await fs.symlink("up/..", path.join(tree, "docs", "deep", "chain"));
  await fs.symlink("Cargo.toml", path.join(tree, "docs", "deep", "manifest"));
  await fs.symlink("../../Cargo.toml", path.join(tree, "docs", "deep", "in"));
  await runChecked(["mkfifo", path.join(tree, "fifo")], { cwd: tree, env: { PATH: process.env.PATH! } });
  const dest = path.join(dir, "copy");
  const report = await copyTreeNoLinks(tree, dest);
  assert.deepEqual(report.skippedLinks.sort(), ["abs", "docs/deep/chain", "docs/deep/manifest", "rel-out"].sort());
  assert.deepEqual(report.skippedSpecial, ["fifo"]);
  assert.equal(await fs.readlink(path.join(dest, "docs", "deep", "in")), "../../Cargo.toml", "a link inside the tree is kept");
  assert.equal(await fs.readlink(path.join(dest, "docs", "deep", "up")), "../..");
  for (const rel of ["abs", "rel-out", "docs/deep/chain", "fifo"]) await assert.rejects(fs.lstat(path.join(dest, rel)), rel);
});
