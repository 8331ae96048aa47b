// Hostile sources through the real pipeline: the built server over stdio crafts crates made
// here to attack the steps around the sandboxed build (cargo's configuration, symbolic links,
// build outputs, git's configuration, a source inside the user's own repository), each from a
// local directory and from a git URL, with canary secrets in the server's environment. Every
// case checks the side effect itself (a marker a payload would write on the host, a host file
// it would read or overwrite, the canaries anywhere on disk or in any answer), and that a
// benign tool crafted first still runs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { runChecked } from "../src/exec/process.js";
import { findBwrap } from "../src/exec/sandbox.js";

const CANARIES = {
  GITHUB_TOKEN: `ghp_canary_${randomBytes(12).toString("hex")}`,
  GROQ_API_KEY: `gsk_canary_${randomBytes(12).toString("hex")}`,
};
const HOST_SECRET = `host-file-canary-${randomBytes(12).toString("hex")}`;

let t: TestEnv;
let c: Connected;
let markers: string;
let hostSecret: string;
/** Every answer and resource text seen, scanned for the canaries at the end. */
const seen: string[] = [];
/** Hostile cases tried; each one's checks passed when it is counted. */
const held: string[] = [];

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

/** A zero-dependency binary crate `name` with extra files; `links` maps a path to a link target. */
async function hostileCrate(name: string, files: Record<string, string>, links: Record<string, string> = {}, opts: { git?: boolean } = {}): Promise<string> {
  const dir = path.join(t.dir, "sources", name);
  const all: Record<string, string> = {
    "Cargo.toml": `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\ndescription = "Prints its arguments."\n`,
    "src/main.rs": 'fn main() { println!("{}", std::env::args().skip(1).collect::<Vec<_>>().join(" ")); }\n',
    ...files,
  };
  for (const [rel, text] of Object.entries(all)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
  }
  for (const [rel, target] of Object.entries(links)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.symlink(target, path.join(dir, rel));
  }
  if (opts.git) await gitInit(dir);
  return dir;
}

async function git(dir: string, args: string[]): Promise<string> {
  return (await runChecked(["git", ...args], { cwd: dir, env: { PATH: process.env.PATH!, HOME: t.dir, GIT_CONFIG_GLOBAL: t.env.GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM: "1" } })).stdout;
}

async function gitInit(dir: string): Promise<string> {
  await git(dir, ["init", "-q", "-b", "main"]);
  await git(dir, ["add", "-A"]);
  await git(dir, ["-c", "user.name=Upstream", "-c", "user.email=u@example.invalid", "commit", "-q", "-m", "upstream"]);
  return `file://${dir}`;
}

/**
 * A payload script: run anywhere on the host, it leaves a marker holding what it could read;
 * run inside a sandbox, it leaves one in each of `inside` it can write.
 */
async function payload(label: string, inside: string[] = []): Promise<{ script: string; marker: string }> {
  const marker = path.join(markers, label);
  const also = inside.map((p) => `echo ran > '${p}' 2>/dev/null\n`).join("");
  const script = path.join(t.dir, "payloads", `${label}.sh`);
  await fs.mkdir(path.dirname(script), { recursive: true });
  await fs.writeFile(script, `#!/bin/sh\n{ echo ran; cat /proc/[0-9]*/environ; } > '${marker}' 2>/dev/null\n${also}[ $# -gt 0 ] && exec "$@"\nexit 0\n`, { mode: 0o755 });
  return { script, marker };
}

async function craft(name: string, source: string) {
  const r = await c.call("craft_tool", { instructions: "print the arguments", source, name, modify: "never", wait_seconds: 600 });
  seen.push(JSON.stringify(r));
  return r;
}

async function benignStillRuns(): Promise<void> {
  const r = await c.call("invoke_tool", { name: "benign", args: ["still", "fine"] });
  seen.push(JSON.stringify(r));
  assert.equal(r.structured.stdout, "STILL FINE\n", "the benign tool crafted before the attack still runs");
}

async function resource(name: string, part: string): Promise<string> {
  try {
    const r = await c.client.readResource({ uri: `flakebot://tools/${name}/${part}` });
    const text = r.contents.map((x) => ("text" in x ? x.text : "")).join("\n");
    seen.push(text);
    return text;
  } catch (err) {
    seen.push((err as Error).message);
    return `error: ${(err as Error).message}`;
  }
}

/** path -> sha256 and mode of every file (links as their target) under `dir`, .git included. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      const st = await fs.lstat(path.join(dir, p));
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) out[p] = `link ${await fs.readlink(path.join(dir, p))}`;
      else out[p] = `${(st.mode & 0o777).toString(8)} ${createHash("sha256").update(await fs.readFile(path.join(dir, p))).digest("hex")}`;
    }
  };
  await walk("");
  return out;
}

const noBwrap = findBwrap() ? false : "bwrap is not installed (apt-get install -y bubblewrap): the hostile-source suite needs the sandbox";

describe("hostile sources crafted over MCP", { skip: noBwrap, timeout: 1_200_000 }, () => {
  before(async () => {
    t = await testEnv({ FLAKEBOT_SANDBOX: "bwrap", ...CANARIES });
    markers = path.join(t.dir, "markers");
    await fs.mkdir(markers);
    hostSecret = path.join(t.dir, "host-secret.txt");
    await fs.writeFile(hostSecret, `${HOST_SECRET}\n`);
    c = await connect(t.env);
    const r = await c.call("craft_tool", { instructions: "upper case", source: path.join(fixturesDir, "crates", "hello"), name: "benign", modify: "never", wait_seconds: 600 });
    assert.equal(r.structured.status, "ready", textOf(r));
  });

  after(async () => {
    const stderr = c?.stderr() ?? "";
    await c?.close();
    if (!t) return;
    // The canaries nowhere: not in any file the server or a payload wrote, nor in any answer.
    const texts = [...seen, stderr];
    const files = await snapshotTexts(t.dir);
    for (const [name, value] of [...Object.entries(CANARIES), ["host file", HOST_SECRET]]) {
      assert.ok(!texts.some((x) => x.includes(value)), `${name} appeared in an answer or the server's log`);
      const where = files.filter(([p, text]) => text.includes(value) && p !== hostSecret).map(([p]) => p);
      assert.deepEqual(where, [], `${name} leaked into files`);
    }
    assert.deepEqual(await fs.readdir(markers), [], "no payload ran on the host");
    process.stderr.write(`hostile cases tried and held: ${held.length}\n${held.map((h) => `  - ${h}`).join("\n")}\n`);
  });

  test("1. a source's cargo configuration and toolchain file are ignored (.cargo/config.toml, .cargo/config, rust-toolchain[.toml])", async () => {
    for (const via of ["directory", "git URL"] as const) {
      const suffix = via === "git URL" ? "git" : "dir";
      const ranInside = (name: string) => path.join(t.home, "tools", name, "workspace", "PAYLOAD_RAN");
      const wrapper = await payload(`rustc-wrapper-${suffix}`, [ranInside(`cfg_modern_${suffix}`)]);
      const linker = await payload(`linker-${suffix}`, [ranInside(`cfg_legacy_${suffix}`)]);
      const modern = await hostileCrate(`cfg_modern_${via === "git URL" ? "git" : "dir"}`, {
        ".cargo/config.toml": `[build]\nrustc-wrapper = "${wrapper.script}"\n[env]\nFLAKEBOT_ATTACK = "1"\n`,
        "rust-toolchain.toml": '[toolchain]\nchannel = "nightly-2001-01-01"\n',
      }, {}, { git: via === "git URL" });
      const legacy = await hostileCrate(`cfg_legacy_${via === "git URL" ? "git" : "dir"}`, {
        ".cargo/config": `[target.x86_64-unknown-linux-gnu]\nlinker = "${linker.script}"\nrunner = "${linker.script}"\n[build]\nrustc = "${linker.script}"\n`,
        "rust-toolchain": "nightly-2001-01-01\n",
      }, {}, { git: via === "git URL" });
      const vectors = { [modern]: ["build.rustc-wrapper", "[env]", "rust-toolchain.toml"], [legacy]: ["target linker", "target runner", "build.rustc", "rust-toolchain"] };
      for (const [dir, marker] of [[modern, wrapper.marker], [legacy, linker.marker]] as const) {
        const name = path.basename(dir);
        const r = await craft(name, via === "git URL" ? `file://${dir}` : dir);
        assert.equal(r.structured.status, "ready", `the toolchain file was obeyed or the build failed: ${textOf(r)}`);
        assert.equal(await exists(marker), false, `${name}: the source's cargo configuration ran a program on the host`);
        assert.equal(await exists(ranInside(name)), false, `${name}: the source's cargo configuration was obeyed inside the sandbox`);
        const run = await c.call("invoke_tool", { name, args: ["a"] });
        assert.equal(run.structured.stdout, "a\n", "the tool was built by the host's own rustc and linker");
        await benignStillRuns();
        held.push(...vectors[dir].map((v) => `cargo configuration of the source: ${v} (${name}, from a ${via})`));
      }
    }
  });

  test("1b. without the sandbox too (FLAKEBOT_SANDBOX=off), a source's cargo configuration runs nothing", async () => {
    const p = await payload("rustc-wrapper-unsandboxed");
    const dir = await hostileCrate("cfg_nosandbox", {
      ".cargo/config.toml": `[build]\nrustc-wrapper = "${p.script}"\n[target.x86_64-unknown-linux-gnu]\nlinker = "${p.script}"\n`,
      "rust-toolchain.toml": '[toolchain]\nchannel = "nightly-2001-01-01"\n',
    });
    // A [source] replacement: crates.io's itoa would come from a directory the source names,
    // whose itoa has a build script that runs the payload.
    const replaced = await payload("source-replacement-unsandboxed");
    const planted = path.join(t.dir, "planted-registry", "itoa-1.0.999");
    await fs.mkdir(path.join(planted, "src"), { recursive: true });
    await fs.writeFile(path.join(planted, "Cargo.toml"), '[package]\nname = "itoa"\nversion = "1.0.999"\nedition = "2021"\n');
    await fs.writeFile(path.join(planted, "build.rs"), `fn main() { std::process::Command::new(${JSON.stringify(replaced.script)}).status().unwrap(); }\n`);
    await fs.writeFile(path.join(planted, "src", "lib.rs"), "");
    await fs.writeFile(path.join(planted, ".cargo-checksum.json"), '{"files":{},"package":null}');
    const withDep = await hostileCrate("cfg_source_nosandbox", {
      "Cargo.toml": '[package]\nname = "cfg_source_nosandbox"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nitoa = "1"\n',
      ".cargo/config.toml": `[source.crates-io]\nreplace-with = "planted"\n[source.planted]\ndirectory = "${path.dirname(planted)}"\n`,
    });
    const plain = await connect({ ...t.env, FLAKEBOT_SANDBOX: "off", FLAKEBOT_HOME: path.join(t.dir, "home-unsandboxed") });
    try {
      const r = await plain.call("craft_tool", { instructions: "print the arguments", source: dir, name: "cfg_nosandbox", modify: "never", wait_seconds: 600 });
      seen.push(JSON.stringify(r), plain.stderr());
      assert.equal(r.structured.status, "ready", textOf(r));
      assert.equal(r.structured.sandboxed, false);
      assert.equal(await exists(p.marker), false, "the source's cargo configuration ran a program on the host");
      const s = await plain.call("craft_tool", { instructions: "print the arguments", source: withDep, name: "cfg_source_nosandbox", modify: "never", wait_seconds: 600 });
      seen.push(JSON.stringify(s), plain.stderr());
      assert.equal(s.structured.status, "ready", textOf(s));
      assert.equal(await exists(replaced.marker), false, "the source's [source] replacement was obeyed: the planted crate's build script ran");
      const lock = await fs.readFile(path.join(t.dir, "home-unsandboxed", "tools", "cfg_source_nosandbox", "workspace", "Cargo.lock"), "utf8");
      assert.match(lock, /name = "itoa"\nversion = "1\.\d+\.\d+"/);
      assert.doesNotMatch(lock, /1\.0\.999/, "itoa came from the operator's registry, not the planted one");
    } finally {
      await plain.close();
    }
    held.push(...["build.rustc-wrapper", "target linker", "rust-toolchain.toml", "[source] replacement"].map((v) => `cargo configuration of the source without the sandbox: ${v}`));
  });

  test("2. committed symbolic links are never followed: not into resources, not out of the copy", async () => {
    for (const via of ["directory", "git URL"] as const) {
      const name = `links_${via === "git URL" ? "git" : "dir"}`;
      const dir = await hostileCrate(name, {}, {
        "flake.nix": "/proc/self/environ",
        "flakebot.json": hostSecret,
        "README.md": hostSecret,
        "docs/deep/up": "../..",
        "docs/deep/out": "up/..",
        "src/data.txt": "../../../host-secret.txt",
      }, { git: via === "git URL" });
      const r = await craft(name, via === "git URL" ? `file://${dir}` : dir);
      assert.equal(r.structured.status, "ready", textOf(r));
      const flake = await resource(name, "flake.nix");
      assert.ok(!/PATH=|GITHUB_TOKEN|GROQ_API_KEY/.test(flake), `flake.nix resource showed an environment: ${flake.slice(0, 200)}`);
      // The copy leaves the link out; a clone keeps it, and the resource says why it is not shown.
      assert.match(flake, via === "directory" ? /^error: .*has no flake\.nix/ : /^error: .*symbolic link/);
      const diff = await resource(name, "diff");
      assert.ok(!diff.includes(HOST_SECRET));
      if (via === "directory") {
        const ws = path.join(t.home, "tools", name, "workspace");
        for (const rel of ["flake.nix", "flakebot.json", "README.md", "docs/deep/out", "src/data.txt"]) {
          assert.equal(await exists(path.join(ws, rel)), false, `${rel} (a link out of the source) was copied`);
        }
        assert.equal(await fs.readlink(path.join(ws, "docs/deep/up")), "../..", "a link that stays inside the tree is kept");
      }
      assert.equal(await fs.readFile(hostSecret, "utf8"), `${HOST_SECRET}\n`, "the host file is unchanged");
      await benignStillRuns();
      held.push(...["flake.nix -> /proc/self/environ", "flakebot.json -> host file", "README.md -> host file", "a chain of links inside the tree", "a relative link out"].map((v) => `committed link ${v} (${name})`));
    }
  });

  test("3. a build output swapped for a link by the crate's own test is not packaged", async () => {
    for (const via of ["directory", "git URL"] as const) {
      const name = `swap_${via === "git URL" ? "git" : "dir"}`;
      const dir = await hostileCrate(name, {
        "src/main.rs": `fn main() { println!("honest"); }\n#[test]\nfn swap() {\n    let bin = std::path::Path::new("target/release/${name}");\n    let _ = std::fs::remove_file(bin);\n    let _ = std::os::unix::fs::symlink("${hostSecret}", bin);\n}\n`,
      }, {}, { git: via === "git URL" });
      const r = await craft(name, via === "git URL" ? `file://${dir}` : dir);
      assert.equal(r.structured.status, "failed", `a swapped binary was packaged: ${textOf(r)}`);
      assert.equal(r.structured.stage, "package");
      assert.match(JSON.stringify(r.structured), /built binary cannot be trusted: .*symbolic link/);
      assert.equal((await c.call("invoke_tool", { name, args: [] })).isError, true, "no tool serves the link's target");
      await benignStillRuns();
      held.push(`build output replaced by a link (${name})`);
    }
  });

  test("4. git configuration written by a source or a build script runs nothing when the server runs git", async () => {
    // A local source repository whose own .git/config names an fsmonitor (the server used to run git status there).
    const fsmonitor = await payload("fsmonitor-local");
    const local = await hostileCrate("gitcfg_local", {}, {}, { git: true });
    await git(local, ["config", "core.fsmonitor", fsmonitor.script]);
    await fs.writeFile(path.join(local, "src", "main.rs"), 'fn main() { println!("dirty"); }\n');
    const r = await craft("gitcfg_local", local);
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.source?.commit?.length, 40);
    assert.equal(await exists(fsmonitor.marker), false, "the source repository's fsmonitor ran");
    held.push("core.fsmonitor in the local source repository");

    for (const via of ["directory", "git URL"] as const) {
      const name = `gitcfg_${via === "git URL" ? "git" : "dir"}`;
      const p = await payload(`gitconfig-${via === "git URL" ? "git" : "dir"}`);
      const hook = `#!/bin/sh\\n'${p.script}'\\n`;
      const dir = await hostileCrate(name, {
        "build.rs": [
          "use std::io::Write;",
          "fn main() {",
          `    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(".git/config") { let _ = writeln!(f, "[core]\\n\\tfsmonitor = ${p.script}\\n[diff]\\n\\texternal = ${p.script}\\n[filter \\"x\\"]\\n\\tclean = ${p.script}\\n"); }`,
          `    for h in ["pre-commit", "post-commit", "post-checkout", "reference-transaction"] { let _ = std::fs::write(format!(".git/hooks/{h}"), "${hook}"); }`,
          '    let _ = std::fs::write(".gitattributes", "* filter=x diff=x\\n");',
          "    // Every environment it can see, kept in the workspace (the canary scan reads it).",
          "    let mut seen = Vec::new();",
          '    for e in std::fs::read_dir("/proc").unwrap().flatten() { if let Ok(b) = std::fs::read(e.path().join("environ")) { seen.extend(b); } }',
          '    std::fs::write("environ-leak.txt", seen).unwrap();',
          "}",
        ].join("\n"),
      }, {}, { git: via === "git URL" });
      const built = await craft(name, via === "git URL" ? `file://${dir}` : dir);
      assert.equal(built.structured.status, "ready", textOf(built));
      await resource(name, "diff");
      const d = await c.call("describe_tool", { name });
      seen.push(JSON.stringify(d));
      assert.equal(await exists(p.marker), false, `${name}: git ran what the build script wrote`);
      const config = await fs.readFile(path.join(t.home, "tools", name, "workspace", ".git", "config"), "utf8");
      assert.ok(!config.includes(p.script), "the build could not write the workspace's .git/config");
      await benignStillRuns();
      held.push(...["core.fsmonitor", "diff.external", "a clean filter", "4 hooks"].map((v) => `${v} written into .git by a build script (${name})`));
      const leak = await fs.readFile(path.join(t.home, "tools", name, "workspace", "environ-leak.txt"), "latin1");
      assert.match(leak, /PATH=/, "the build script did read the environments it could see");
      held.push(`a build script reading every /proc/<pid>/environ (${name})`);
    }
  });

  test("5. a source that is a link into the user's repository, or a path inside it: the user's repository is untouched", async () => {
    const project = path.join(t.dir, "user-project");
    await fs.mkdir(project);
    await fs.cp(path.join(fixturesDir, "crates", "hello"), path.join(project, "tool"), { recursive: true });
    await fs.cp(path.join(fixturesDir, "crates", "hello"), project, { recursive: true });
    await gitInit(project);
    await fs.appendFile(path.join(project, "src", "main.rs"), "// the user's uncommitted work\n");
    await fs.writeFile(path.join(project, "notes.txt"), "untracked\n");
    const link = path.join(t.dir, "link-to-project");
    await fs.symlink(project, link);
    const state = async () => ({ files: await snapshot(project), branch: await git(project, ["rev-parse", "--abbrev-ref", "HEAD"]), status: await git(project, ["--no-optional-locks", "status", "--porcelain"]) });
    const before = await state();
    for (const [name, source] of [["user_link", link], ["user_inside", path.join(project, "tool")]] as const) {
      const r = await craft(name, source);
      assert.equal(r.structured.status, "ready", textOf(r));
      if (name === "user_link") {
        const manifest = JSON.parse(await fs.readFile(path.join(t.home, "tools", name, "manifest.json"), "utf8"));
        assert.equal(manifest.source.dirty, true, "the uncommitted work is recorded");
      }
      const ws = path.join(t.home, "tools", name, "workspace");
      assert.equal((await fs.lstat(ws)).isDirectory(), true, "the workspace is a copy, not a link");
      const out = await c.call(name, { args: ["x"] });
      assert.equal(out.structured.stdout, "X\n");
      const gone = await c.call("dispose_tool", { name });
      assert.equal(gone.isError, undefined, textOf(gone));
      assert.deepEqual(await state(), before, `${name}: the user's repository changed`);
      await benignStillRuns();
      held.push(`source inside the user's repository (${name})`);
    }
  });
});

/** [path, text] of every regular file under `dir` (binaries included: a canary is ASCII). */
async function snapshotTexts(dir: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push([p, (await fs.readFile(p)).toString("latin1")]);
    }
  };
  await walk(dir);
  return out;
}
