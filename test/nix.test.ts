// The Nix backend with real Nix: generated flakes locked to a local stand-in for nixpkgs
// (test/fixtures/nixpkgs-stub, which builds with the host's cargo against Debian's crates),
// built into GC roots, reused, pushed to a file:// binary cache and disposed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { liveChildren, runChecked } from "../src/exec/process.js";
import { craftedEnv } from "../src/exec/env.js";
import { loadConfig } from "../src/config.js";
import { toolPaths } from "../src/state/paths.js";
import { type StageContext } from "../src/craft/context.js";
import { CraftError } from "../src/model/errors.js";
import type { Craft, TargetInfo } from "../src/model/craft.js";
import { lookupBuild } from "../src/backends/cache.js";
import {
  buildFlake,
  disposeNix,
  forkFlakeRef,
  localFlakeRef,
  nixAvailable,
  nixPackage,
  prepareFlake,
  pushToCache,
  type PreparedFlake,
} from "../src/backends/nix/nix.js";
import { FLAKE_NIX, flakeData, needsOpenssl } from "../src/backends/nix/flake-files.js";
import { nixpkgsIncompatibility, runNix } from "../src/backends/nix/cli.js";
import { fixtureRepo, fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { OFFLINE_NIX_CONFIG, prepareNixpkgsStub } from "./helpers/nix-stub.js";

let env: TestEnv;
let stub: string;
let nixpkgs: string;
const saved: Record<string, string | undefined> = {};
const nix = await nixAvailable();
const skip = nix.available ? false : `no usable nix: ${nix.reason}`;

before(async () => {
  if (skip) return;
  env = await testEnv();
  // The stand-in learns the host's toolchain from host.json; testRun keeps this run's store
  // paths apart from an earlier run's, so "built" and "reused" mean what they say.
  nixpkgs = await prepareNixpkgsStub(env.dir);
  stub = nixpkgs.slice("path:".length);
  // The build tools read these through toolchainEnv(), as in production. (No
  // GIT_CONFIG_GLOBAL: simple-git refuses it; git.ts passes its own identity.)
  const vars: Record<string, string> = {
    CARGO_HOME: env.env.CARGO_HOME,
    NIX_CONFIG: OFFLINE_NIX_CONFIG,
  };
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});

after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  // Leave nothing of this run in the store.
  for (const root of roots) await disposeNix(root).catch(() => {});
  if (env) await fs.rm(env.dir, { recursive: true, force: true });
});

const roots: string[] = [];
function gcroot(name: string): string {
  const root = path.join(env.dir, "roots", name);
  roots.push(root);
  return root;
}

function target(pkg: string, version: string, bin: string, dir = "", hasLock = true): TargetInfo {
  return { package: pkg, version, bin, dir, in_workspace: dir !== "", has_lockfile: hasLock };
}

async function workspace(fixture: string, name: string): Promise<string> {
  return fixtureRepo(fixture, path.join(env.dir, "ws", name));
}

async function gitLines(dir: string, args: string[]): Promise<string[]> {
  const r = await runChecked(["git", ...args], { cwd: dir, env: process.env as Record<string, string> });
  return r.stdout.split("\n").filter(Boolean);
}

async function run(binary: string, args: string[], stdin?: string): Promise<string> {
  const r = await runChecked([binary, ...args], { cwd: env.dir, env: craftedEnv(env.dir), stdin });
  return r.stdout;
}

async function nixOut(args: string[]): Promise<string> {
  const r = await runNix(args, { cwd: env.dir, timeoutMs: 120_000 });
  assert.equal(r.exitCode, 0, `nix ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function context(name: string, extraEnv: Record<string, string> = {}): { ctx: StageContext; lines: string[] } {
  const config = loadConfig({ ...env.env, FLAKEBOT_NIXPKGS: nixpkgs, FLAKEBOT_BACKEND: "nix", ...extraEnv });
  const lines: string[] = [];
  const ctx: StageContext = {
    config,
    paths: toolPaths(config.home, name),
    request: { instructions: "upper-case text", modify: "never", kind: "command" },
    signal: new AbortController().signal,
    log: (line) => lines.push(line),
    progress: () => {},
  };
  return { ctx, lines };
}

function craftRecord(name: string, t: TargetInfo, request: StageContext["request"]): Craft {
  const now = new Date().toISOString();
  return { schema: 1, name, status: "building", message: "", request, created_at: now, updated_at: now, target: t };
}

let hello: { flake: PreparedFlake; storePath: string; root: string };

test("a single crate becomes a committed flake that nix builds into a GC root", { skip }, async () => {
  const cache = path.join(env.dir, "binary-cache");
  const { ctx, lines } = context("hello", { FLAKEBOT_NIX_CACHE: `file://${cache}` });
  await fixtureRepo("hello", ctx.paths.workspace);
  const t = target("hello-upper", "0.1.0", "hello-upper");
  roots.push(ctx.paths.gcroot);

  const { build } = await nixPackage(ctx, craftRecord("hello", t, ctx.request));
  assert.ok(build);
  assert.equal(build.backend, "nix");
  assert.equal(build.reproducible, true);
  assert.equal(build.cached, false);
  assert.match(build.store_path!, /^\/nix\/store\/[a-z0-9]{32}-hello-upper-0\.1\.0$/);
  assert.equal(build.binary, path.join(build.store_path!, "bin", "hello-upper"));
  assert.equal(await fs.readlink(ctx.paths.gcroot), build.store_path);
  assert.equal(await run(build.binary, ["flakes", "work"]), "FLAKES WORK\n");
  assert.ok(lines.some((l) => /Compiling hello-upper/.test(l)), "the build log streams into the tool's log");

  // The flake files are committed, flake.nix is the constant text, flake.lock pins the stand-in.
  const ws = ctx.paths.workspace;
  const tracked = await gitLines(ws, ["ls-files"]);
  for (const f of ["flake.nix", "flakebot.json", "flake.lock", "Cargo.lock"]) assert.ok(tracked.includes(f), `${f} is committed`);
  assert.deepEqual(await gitLines(ws, ["status", "--porcelain", "--", "flake.nix", "flakebot.json", "flake.lock"]), []);
  assert.equal(await fs.readFile(path.join(ws, "flake.nix"), "utf8"), FLAKE_NIX);
  const lock = JSON.parse(await fs.readFile(path.join(ws, "flake.lock"), "utf8"));
  assert.equal(lock.nodes.nixpkgs.locked.type, "path");
  assert.equal(lock.nodes.nixpkgs.locked.path, stub);
  const data = JSON.parse(await fs.readFile(path.join(ws, "flakebot.json"), "utf8"));
  assert.deepEqual(data, { pname: "hello-upper", version: "0.1.0", bin: "hello-upper", root: "", subdir: "", cargoBuildFlags: ["--bin", "hello-upper"], openssl: false, pkgConfig: false });

  // The build is recorded under the craft's key for the orchestrator's cache.
  assert.deepEqual((await lookupBuild(ctx.config.home, build.key))?.build, build);

  // FLAKEBOT_NIX_CACHE: the store path was pushed to the file:// binary cache.
  const hash = path.basename(build.store_path!).slice(0, 32);
  assert.ok(existsSync(path.join(cache, `${hash}.narinfo`)), "narinfo in the binary cache");
  assert.equal((await nixOut(["path-info", "--store", `file://${cache}`, build.store_path!])).trim(), build.store_path);

  // Anyone with the flake reference can run it: `nix run <flake_ref>` uses apps.default.
  assert.equal(await nixOut(["run", build.flake_ref!, "--", "from", "nix", "run"]), "FROM NIX RUN\n");

  const head = (await gitLines(ws, ["rev-parse", "HEAD"]))[0];
  hello = { flake: { workspace: ws, commit: head, ref: build.flake_ref!, data, lockGenerated: false }, storePath: build.store_path!, root: ctx.paths.gcroot };
});

test("crafting the identical tree again reuses the store path", { skip }, async () => {
  assert.ok(hello, "needs the first build");
  const ws = await workspace("hello", "hello-again");
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs });
  assert.notEqual(flake.commit, hello.flake.commit, "a different commit (another clone, another time)");
  const root2 = gcroot("hello-again");
  const build = await buildFlake(flake, { gcroot: root2 });
  assert.equal(build.store_path, hello.storePath);
  assert.equal(build.cached, true);
  assert.equal(await run(build.binary, ["again"]), "AGAIN\n");

  // Disposing one of the two tools keeps the store path the other still roots.
  const removedFirst = await disposeNix(hello.root, hello.storePath);
  assert.deepEqual(removedFirst, [hello.root]);
  assert.ok(existsSync(hello.storePath), "still used by the second GC root");
  assert.ok(!existsSync(hello.root));

  const removed = await disposeNix(root2);
  assert.deepEqual(removed, [root2, hello.storePath]);
  assert.ok(!existsSync(hello.storePath), "the store path is deleted");
  assert.deepEqual(await disposeNix(root2), [], "disposing twice removes nothing");
});

test("a workspace member without Cargo.lock: the lock is generated at the workspace root", { skip }, async () => {
  const ws = await workspace("shout-workspace", "shout");
  assert.ok(!existsSync(path.join(ws, "Cargo.lock")));
  const lines: string[] = [];
  const t = target("shout", "1.2.0", "shout", "crates/shout", false);
  const flake = await prepareFlake({ workspace: ws, target: t, nixpkgs, log: (l) => lines.push(l) });
  assert.equal(flake.lockGenerated, true);
  assert.equal(flake.data.root, "");
  assert.equal(flake.data.subdir, "crates/shout");
  const tracked = await gitLines(ws, ["ls-files"]);
  assert.ok(tracked.includes("Cargo.lock"), "the generated Cargo.lock is committed at the workspace root");
  assert.ok(!existsSync(path.join(ws, "crates", "shout", "Cargo.lock")));
  assert.match(await fs.readFile(path.join(ws, "Cargo.lock"), "utf8"), /name = "textkit"/);
  const build = await buildFlake(flake, { gcroot: gcroot("shout"), log: (l) => lines.push(l) });
  assert.equal(await run(build.binary, ["hi", "there"]), "HI THERE!!!\n");
  assert.match(build.store_path!, /-shout-1\.2\.0$/);
});

test("crate and user text reaches Nix only as JSON data", { skip }, async () => {
  const ws = await workspace("hello", "hostile");
  const hostile = 'x${builtins.abort "spliced"}"\n\'\'${y} \\ end';
  await fs.appendFile(path.join(ws, "Cargo.toml"), `\n[package.metadata.note]\ntext = ${JSON.stringify(hostile)}\n`);
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", hostile, hostile), nixpkgs });
  const nixText = await fs.readFile(path.join(ws, "flake.nix"), "utf8");
  assert.equal(nixText, FLAKE_NIX);
  assert.ok(!nixText.includes("spliced"));
  const data = JSON.parse(await fs.readFile(path.join(ws, "flakebot.json"), "utf8"));
  assert.equal(data.bin, hostile);
  assert.equal(data.version, hostile);
  // Nix reads the strings back verbatim instead of evaluating them.
  assert.equal(await nixOut(["eval", "--raw", `${flake.ref}#packages.x86_64-linux.default.meta.mainProgram`]), hostile);
});

test("openssl-sys in Cargo.lock adds openssl and pkg-config to the build", { skip }, async () => {
  const ws = await workspace("hello", "openssl");
  await fs.appendFile(path.join(ws, "Cargo.lock"), '\n[[package]]\nname = "openssl-sys"\nversion = "0.9.100"\n');
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs });
  assert.equal(flake.data.openssl, true);
  assert.equal(flake.data.pkgConfig, true);
  const attr = (a: string) => `${flake.ref}#packages.x86_64-linux.default.${a}`;
  const inputs = JSON.parse(await nixOut(["eval", "--json", attr("buildInputs")])) as string[];
  const native = JSON.parse(await nixOut(["eval", "--json", attr("nativeBuildInputs")])) as string[];
  assert.match(inputs.join(" "), /-openssl$/);
  assert.match(native.join(" "), /-pkg-config$/);
  assert.equal(needsOpenssl(await fs.readFile(path.join(fixturesDir, "crates", "hello", "Cargo.lock"), "utf8")), false);
});

test("a failing nix build is a package error carrying the build log", { skip }, async () => {
  const ws = await workspace("hello", "broken");
  await fs.writeFile(path.join(ws, "src", "main.rs"), 'fn main() {\n    let width: u32 = "not a number";\n    println!("{width}");\n}\n');
  await runChecked(["git", "commit", "-qam", "break it"], { cwd: ws, env: process.env as Record<string, string> });
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs });
  const lines: string[] = [];
  const root = gcroot("broken");
  await assert.rejects(buildFlake(flake, { gcroot: root, log: (l) => lines.push(l) }), (err: unknown) => {
    assert.ok(err instanceof CraftError);
    assert.equal(err.stage, "package");
    assert.match(err.message, /mismatched types/);
    assert.match(err.message, /FLAKEBOT_BACKEND=cargo/);
    return true;
  });
  assert.ok(lines.some((l) => l.includes("error[E0308]")), "the compiler's error streamed into the log");
  assert.ok(!existsSync(root), "no GC root for a failed build");
});

test("a nixpkgs that refuses the installed Nix gets a message that says what to do", { skip }, async () => {
  const picky = path.join(env.dir, "nixpkgs-picky");
  await fs.cp(stub, picky, { recursive: true });
  const host = JSON.parse(await fs.readFile(path.join(stub, "host.json"), "utf8"));
  await fs.writeFile(path.join(picky, "host.json"), JSON.stringify({ ...host, minNix: "99.0" }));
  const ws = await workspace("hello", "picky");
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs: `path:${picky}` });
  await assert.rejects(buildFlake(flake, { gcroot: gcroot("picky") }), (err: unknown) => {
    assert.ok(err instanceof CraftError);
    assert.match(err.message, /requires Nix >= 99\.0.*upgrade Nix, or set FLAKEBOT_NIXPKGS=github:NixOS\/nixpkgs\/nixos-25\.05/);
    return true;
  });
});

test("a cancelled nix build stops and says so", { skip }, async () => {
  const ws = await workspace("hello", "cancelled");
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs });
  const abort = new AbortController();
  abort.abort();
  await assert.rejects(buildFlake(flake, { gcroot: gcroot("cancelled"), signal: abort.signal }), /cancelled/);
  assert.equal(liveChildren(), 0, "no nix process left running");
});

test("flake references: the exact commit locally, a runnable reference for a fork", () => {
  const commit = "0123456789abcdef0123456789abcdef01234567";
  assert.equal(localFlakeRef("/state/tools/my tool/workspace", commit), `git+file:///state/tools/my%20tool/workspace?rev=${commit}&shallow=1`);
  assert.equal(forkFlakeRef("https://github.com/someone/hexyl.git", commit, "flakebot/hex"), `github:someone/hexyl/${commit}`);
  assert.equal(forkFlakeRef("https://git.example.org/a/b", commit, "flakebot/hex"), `git+https://git.example.org/a/b?ref=flakebot%2Fhex&rev=${commit}`);
  assert.equal(forkFlakeRef("git@github.com:someone/hexyl.git", commit), `github:someone/hexyl/${commit}`);
  assert.equal(forkFlakeRef("git@git.example.org:a/b.git", commit), undefined);
});

test("a failed push to the binary cache is reported, not fatal", { skip }, async () => {
  const lines: string[] = [];
  const ok = await pushToCache("/nix/store/00000000000000000000000000000000-missing", `file://${env.dir}/cache-2`, { log: (l) => lines.push(l) });
  assert.equal(ok, false);
  assert.match(lines.join("\n"), /could not push/);
});

// What the generated flake may use, with where real nixpkgs defines it. The stand-in is
// stricter still: it rejects any buildRustPackage argument it does not implement.
const REAL_NIXPKGS = {
  // flake outputs of nixpkgs' flake.nix
  flake: ["lib", "legacyPackages"],
  // lib/attrsets.nix, lib/lists.nix
  lib: ["genAttrs", "optionals"],
  // pkgs/top-level/all-packages.nix
  pkgs: ["rustPlatform.buildRustPackage", "pkg-config", "openssl"],
  // pkgs/build-support/rust/build-rust-package/default.nix (+ stdenv.mkDerivation's own)
  buildRustPackage: ["pname", "version", "src", "cargoLock", "buildAndTestSubdir", "cargoBuildFlags", "doCheck", "nativeBuildInputs", "buildInputs", "meta"],
  // pkgs/build-support/rust/import-cargo-lock.nix
  cargoLock: ["lockFile", "allowBuiltinFetchGit"],
  // the flake schema of `nix run` / `nix build`
  outputs: ["packages", "apps"],
};

function attributesOf(block: string): string[] {
  // Top-level `name =` and `inherit name;` bindings of one { ... } block.
  const names: string[] = [];
  let depth = 0;
  for (const line of block.split("\n")) {
    if (depth === 0) {
      const m = /^\s*(?:inherit\s+([\w-]+)\s*;|([\w-]+)(?:\.[\w-]+)?\s*=)/.exec(line);
      if (m) names.push(m[1] ?? m[2]);
    }
    for (const ch of line) depth += ch === "{" || ch === "[" ? 1 : ch === "}" || ch === "]" ? -1 : 0;
  }
  return names;
}

function blockAfter(text: string, marker: string): string {
  const open = text.indexOf("{", text.indexOf(marker));
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`no { ... } block after ${marker}`);
}

test("the generated flake.nix only uses attributes real nixpkgs has", () => {
  // inputs.nixpkgs.url is the input's declaration, not an attribute of nixpkgs.
  const used = (prefix: string) => [...FLAKE_NIX.matchAll(new RegExp(`(?<!inputs\\.)\\b${prefix}\\.([\\w.-]+)`, "g"))].map((m) => m[1]);
  for (const a of used("nixpkgs")) assert.ok(REAL_NIXPKGS.flake.includes(a.split(".")[0]), `nixpkgs.${a}`);
  for (const a of used("lib")) assert.ok(REAL_NIXPKGS.lib.includes(a), `lib.${a}`);
  for (const a of used("pkgs")) assert.ok(REAL_NIXPKGS.pkgs.includes(a), `pkgs.${a}`);
  const args = attributesOf(blockAfter(FLAKE_NIX, "buildRustPackage"));
  assert.ok(args.length >= 8, `found the buildRustPackage arguments: ${args}`);
  for (const a of args) assert.ok(REAL_NIXPKGS.buildRustPackage.includes(a), `buildRustPackage argument ${a}`);
  for (const a of attributesOf(blockAfter(FLAKE_NIX, "cargoLock ="))) assert.ok(REAL_NIXPKGS.cargoLock.includes(a), `cargoLock.${a}`);
  assert.match(FLAKE_NIX, /meta\.mainProgram = cfg\.bin;/);
  assert.match(FLAKE_NIX, /builtins\.fromJSON \(builtins\.readFile \.\/flakebot\.json\)/);
  // The stand-in implements exactly the arguments the flake passes.
  return fs.readFile(path.join(fixturesDir, "nixpkgs-stub", "flake.nix"), "utf8").then((stubText) => {
    const known = /known = \[([^\]]*)\]/.exec(stubText)![1].match(/"([\w-]+)"/g)!.map((s) => s.slice(1, -1));
    assert.deepEqual([...known].sort(), [...args].sort());
  });
});

test("an old Nix gets a clear message for a nixpkgs that needs 2.18, and none for one it can use", () => {
  const msg = nixpkgsIncompatibility("2.8.0", "github:NixOS/nixpkgs/nixos-25.11");
  assert.match(msg ?? "", /needs Nix 2\.18.*2\.8\.0.*FLAKEBOT_NIXPKGS=github:NixOS\/nixpkgs\/nixos-25\.05/s);
  assert.ok(nixpkgsIncompatibility("2.8.0", "github:NixOS/nixpkgs/nixos-unstable"));
  assert.equal(nixpkgsIncompatibility("2.8.0", "github:NixOS/nixpkgs/nixos-25.05"), undefined);
  assert.equal(nixpkgsIncompatibility("2.8.0", "path:/srv/nixpkgs-mirror"), undefined);
  assert.equal(nixpkgsIncompatibility("2.24.1", "github:NixOS/nixpkgs/nixos-unstable"), undefined);
  // The default pin in flake.nix works with the Nix installed here.
  const pin = /inputs\.nixpkgs\.url = "([^"]+)"/.exec(FLAKE_NIX)![1];
  if (nix.version) assert.equal(nixpkgsIncompatibility(nix.version, pin), undefined);
});

test("nixAvailable reports the installed version; without nix the stage says how to install it", { skip }, async () => {
  const installed = (await runChecked(["nix", "--version"], { cwd: "/", env: process.env as Record<string, string> })).stdout;
  assert.ok(nix.version && installed.includes(nix.version));
  const path0 = process.env.PATH;
  process.env.PATH = path.join(env.dir, "empty-bin");
  try {
    const missing = await nixAvailable();
    assert.equal(missing.available, false);
    assert.match(missing.reason ?? "", /not on PATH.*install Nix.*FLAKEBOT_BACKEND=cargo/);
    const { ctx } = context("no-nix");
    await assert.rejects(nixPackage(ctx, craftRecord("no-nix", target("hello-upper", "0.1.0", "hello-upper"), ctx.request)), (err: unknown) => {
      assert.ok(err instanceof CraftError);
      assert.equal(err.stage, "package");
      assert.match(err.message, /install Nix/);
      return true;
    });
  } finally {
    process.env.PATH = path0;
  }
});

test("flakeData keeps a workspace's layout and selects the binary", () => {
  const data = flakeData(target("shout", "1.2.0", "shout", "crates/shout"), { root: "rust", subdir: "crates/shout" }, "");
  assert.deepEqual(data, { pname: "shout", version: "1.2.0", bin: "shout", root: "rust", subdir: "crates/shout", cargoBuildFlags: ["--bin", "shout"], openssl: false, pkgConfig: false });
});
