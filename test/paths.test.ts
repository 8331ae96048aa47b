// Path confinement: every path that comes from outside (a tool name, an LLM edit) must stay
// inside its directory. inside() is the lexical check; resolveWorkspacePath adds what only
// the filesystem knows (symbolic links). Hostile inputs: `..`, absolute paths, prefixes of
// sibling directories, symlinks that lead out, NUL bytes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { inside, toolPaths, toolsDir } from "../src/state/paths.js";
import { invalidName } from "../src/model/names.js";
import { resolveWorkspacePath } from "../src/guard/edits.js";
import { tempDir } from "./helpers/offline.js";

describe("inside(): the lexical check", () => {
  const root = "/srv/flakebot/tools/t/workspace";

  test("paths that stay inside resolve under the root", () => {
    assert.equal(inside(root, "src/main.rs"), `${root}/src/main.rs`);
    assert.equal(inside(root, "./src/../Cargo.toml"), `${root}/Cargo.toml`);
    assert.equal(inside(root, "a//b/./c"), `${root}/a/b/c`);
    assert.equal(inside(root + "/", "x"), `${root}/x`);
    assert.equal(inside(root, `${root}/src/lib.rs`), `${root}/src/lib.rs`, "an absolute path inside the root is fine");
    assert.equal(inside(root, ""), root);
    assert.equal(inside(root, "..dots-in-a-name"), `${root}/..dots-in-a-name`);
  });

  test("`..` that climbs out is refused, however it is spelled", () => {
    for (const rel of ["..", "../x", "../../etc/passwd", "a/../../x", "./../x", "src/../../workspace-evil/x", "a/b/../../../.."]) {
      assert.throws(() => inside(root, rel), /leaves/, rel);
    }
  });

  test("a sibling whose name starts with the root's name is outside", () => {
    assert.throws(() => inside(root, "../workspace-evil/Cargo.toml"), /leaves/);
    assert.throws(() => inside(root, "/srv/flakebot/tools/t/workspace2"), /leaves/);
  });

  test("absolute paths elsewhere are refused", () => {
    for (const rel of ["/etc/passwd", "/", "/srv/flakebot/tools/t", "/srv/flakebot/tools/t/scratch/x"]) {
      assert.throws(() => inside(root, rel), /leaves/, rel);
    }
  });
});

describe("tool names as paths", () => {
  const home = "/srv/flakebot";

  test("a hostile name is refused by the name check, and toolPaths never leaves tools/", () => {
    for (const name of ["..", "../x", "../../etc", "/etc", ".", "", "a/b", "a\0b", "x".repeat(49), "Foo", "craft_tool", "$(id)", "a b"]) {
      assert.ok(invalidName(name), `the name ${JSON.stringify(name)} was accepted`);
      try {
        const dir = toolPaths(home, name).dir;
        assert.ok(dir === toolsDir(home) || dir.startsWith(toolsDir(home) + "/"), `${JSON.stringify(name)} -> ${dir}`);
      } catch (err) {
        // refused before it becomes a path: as not a tool name, or as leaving tools/
        assert.match((err as Error).message, /not a valid tool name|leaves/);
      }
    }
  });

  test("valid names map to their own directory", () => {
    assert.equal(toolPaths(home, "hex_dump").dir, "/srv/flakebot/tools/hex_dump");
    assert.equal(invalidName("hex_dump"), undefined);
  });
});

describe("resolveWorkspacePath(): what the filesystem adds", () => {
  let dir: string;
  let root: string;
  let outside: string;

  before(async () => {
    dir = await tempDir("flakebot-paths-");
    root = path.join(dir, "workspace");
    outside = path.join(dir, "outside");
    await fs.mkdir(path.join(root, "src"), { recursive: true });
    await fs.mkdir(outside);
    await fs.writeFile(path.join(root, "src", "main.rs"), "fn main() {}\n");
    await fs.writeFile(path.join(outside, "secret"), "secret\n");
    await fs.symlink("/etc", path.join(root, "etc-link"));
    await fs.symlink("../outside", path.join(root, "up-link"));
    await fs.symlink(path.join(outside, "secret"), path.join(root, "src", "evil.rs"));
    await fs.symlink("main.rs", path.join(root, "src", "alias.rs"));
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test("inside() alone is lexical: a symlink that leads out passes it", () => {
    // This is why every caller that touches the filesystem uses resolveWorkspacePath.
    assert.equal(inside(root, "up-link/secret"), path.join(root, "up-link", "secret"));
  });

  test("a symlink on the way is refused, wherever it points", async () => {
    for (const rel of ["etc-link/passwd", "up-link/secret", "up-link/new-file", "src/evil.rs", "src/alias.rs"]) {
      const r = await resolveWorkspacePath(root, rel);
      assert.ok("problem" in r, `${rel} was accepted`);
      assert.match(r.problem, /symbolic link|leads out/);
    }
    assert.equal(existsSync(path.join(outside, "new-file")), false);
  });

  test("`..`, absolute paths and NUL bytes are refused with a reason", async () => {
    const cases: [string, RegExp][] = [
      ["../outside/secret", /\.\./],
      ["src/../../outside/secret", /\.\./],
      [path.join(outside, "secret"), /absolute/],
      ["/etc/passwd", /absolute/],
      ["~/.ssh/id_rsa", /absolute/],
      ["src/main.rs\0.txt", /NUL/],
    ];
    for (const [rel, why] of cases) {
      const r = await resolveWorkspacePath(root, rel);
      assert.ok("problem" in r, `${JSON.stringify(rel)} was accepted`);
      assert.match(r.problem, why, rel);
    }
  });

  test("a NUL byte can never reach the filesystem, even past inside()", async () => {
    // A C library would stop at the NUL and overwrite "src/main.rs"; node refuses the path.
    const full = inside(root, "src/main.rs\0.bak");
    assert.equal(full, path.join(root, "src", "main.rs\0.bak"));
    await assert.rejects(fs.writeFile(full, "clobbered"), { code: "ERR_INVALID_ARG_VALUE" });
    assert.equal(await fs.readFile(path.join(root, "src", "main.rs"), "utf8"), "fn main() {}\n");
  });

  test("ordinary paths, new files and a root reached through a symlink are accepted", async () => {
    const linkedRoot = path.join(dir, "linked-workspace");
    await fs.symlink(root, linkedRoot);
    for (const [base, rel] of [
      [root, "src/main.rs"],
      [root, "src/new/module.rs"],
      [linkedRoot, "src/main.rs"],
    ]) {
      const r = await resolveWorkspacePath(base, rel);
      assert.ok("full" in r, `${rel} under ${base}: ${"problem" in r ? r.problem : ""}`);
      assert.equal(r.full, path.join(base, rel));
    }
  });
});
