// The Nix backend with real Nix: generated flakes locked to a local stand-in for nixpkgs
// (test/fixtures/nixpkgs-stub, which builds with the host's cargo against Debian's crates),
// built into GC roots, reused, pushed to a file:// binary cache and disposed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import net from "node:net";
import { once } from "node:events";
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
import { FLAKE_NIX, flakeData, flakeNix, needsOpenssl, writeFlakeFiles, type FlakeData } from "../src/backends/nix/flake-files.js";
import { reviewLock } from "../src/backends/nix/cargo-lock.js";
import { gitOutputHashes } from "../src/backends/nix/git-hashes.js";
import { packageStage, readCheckPhase } from "../src/craft/stages/package.js";
import { testStage } from "../src/craft/stages/test.js";
import type { BackendContext } from "../src/backends/backend.js";
import { nixBackend } from "../src/backends/nix/backend.js";
import { cargoBackend } from "../src/backends/cargo/backend.js";
import { cargoBuild } from "../src/backends/cargo/cargo.js";
import { nixpkgsIncompatibility, runNix } from "../src/backends/nix/cli.js";
import { DEBIAN_REGISTRY, fixtureRepo, fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
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

function context(name: string, extraEnv: Record<string, string> = {}): { ctx: StageContext & BackendContext; lines: string[] } {
  // The Nix sandbox is off here (OFFLINE_NIX_CONFIG): nix builds run under bwrap.
  const config = loadConfig({ ...env.env, FLAKEBOT_NIXPKGS: nixpkgs, FLAKEBOT_BACKEND: "nix", FLAKEBOT_SANDBOX: "auto", ...extraEnv });
  const lines: string[] = [];
  const ctx: StageContext & BackendContext = {
    config,
    paths: toolPaths(config.home, name),
    request: { instructions: "upper-case text", modify: "never", kind: "command" },
    signal: new AbortController().signal,
    log: (line) => lines.push(line),
    progress: () => {},
    sandboxed: true,
    readTests: readCheckPhase,
  };
  return { ctx, lines };
}

function craftRecord(name: string, t: TargetInfo, request: StageContext["request"]): Craft {
  const now = new Date().toISOString();
  return { schema: 1, name, status: "building", message: "", request, created_at: now, updated_at: now, target: t };
}

let hello: { flake: PreparedFlake; storePath: string; root: string; cache: string };

test("a single crate becomes a committed flake that nix builds into a GC root", { skip }, async () => {
  const cache = path.join(env.dir, "binary-cache");
  const { ctx, lines } = context("hello", { FLAKEBOT_NIX_CACHE: `file://${cache}` });
  await fixtureRepo("hello", ctx.paths.workspace);
  const t = target("hello-upper", "0.1.0", "hello-upper");
  roots.push(ctx.paths.gcroot);

  const { build, tests } = await nixPackage(ctx, craftRecord("hello", t, ctx.request));
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
  // flake.nix is the constant text but for the binary cache, which users of the flake are offered.
  const flakeText = await fs.readFile(path.join(ws, "flake.nix"), "utf8");
  assert.equal(flakeText, flakeNix(`file://${cache}`));
  assert.match(flakeText, new RegExp(`nixConfig\\.extra-substituters = \\[ "file://${cache}" \\];`));
  const lock = JSON.parse(await fs.readFile(path.join(ws, "flake.lock"), "utf8"));
  assert.equal(lock.nodes.nixpkgs.locked.type, "path");
  assert.equal(lock.nodes.nixpkgs.locked.path, stub);
  const data: FlakeData = JSON.parse(await fs.readFile(path.join(ws, "flakebot.json"), "utf8"));
  // No baseline yet (no modify loop): the check phase records the whole suite.
  assert.deepEqual(data, { pname: "hello-upper", version: "0.1.0", bin: "hello-upper", root: "", subdir: "", cargoBuildFlags: ["--bin", "hello-upper"], cargoTestFlags: ["--no-fail-fast"], checkMode: "record", checkFlags: ["--color", "never"], outputHashes: {}, openssl: false, pkgConfig: false });
  // The crate's tests ran inside the nix build, and their counts come from its log.
  assert.equal(tests?.passed, 2);
  assert.equal(tests?.failed, 0);
  assert.ok(lines.some((l) => /> test result: ok\. 2 passed/.test(l)), "libtest's summary is in the nix build log");

  // The build is recorded under the craft's key for the orchestrator's cache.
  assert.deepEqual((await lookupBuild(ctx.config.home, build.key))?.build, build);

  // FLAKEBOT_NIX_CACHE: the store path was pushed to the file:// binary cache.
  const hash = path.basename(build.store_path!).slice(0, 32);
  assert.ok(existsSync(path.join(cache, `${hash}.narinfo`)), "narinfo in the binary cache");
  assert.equal((await nixOut(["path-info", "--store", `file://${cache}`, build.store_path!])).trim(), build.store_path);

  // Anyone with the flake reference can run it: `nix run <flake_ref>` uses apps.default.
  assert.equal(await nixOut(["run", build.flake_ref!, "--", "from", "nix", "run"]), "FROM NIX RUN\n");

  const head = (await gitLines(ws, ["rev-parse", "HEAD"]))[0];
  hello = { flake: { workspace: ws, commit: head, ref: build.flake_ref!, data, lockGenerated: false }, storePath: build.store_path!, root: ctx.paths.gcroot, cache: `file://${cache}` };
});

test("crafting the identical tree again reuses the store path", { skip }, async () => {
  assert.ok(hello, "needs the first build");
  const ws = await workspace("hello", "hello-again");
  // The same binary cache too: flake.nix names it, and flake.nix is part of the source.
  // The same flakebot.json too (the first craft's check phase recorded, having no baseline).
  const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs, cache: hello.cache, checkMode: hello.flake.data.checkMode });
  assert.notEqual(flake.commit, hello.flake.commit, "a different commit (another clone, another time)");
  const root2 = gcroot("hello-again");
  const { build } = await buildFlake(flake, { gcroot: root2 });
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
  const { build } = await buildFlake(flake, { gcroot: gcroot("shout"), log: (l) => lines.push(l) });
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
  // The wording of nixpkgs before 25.11 ("requires Nix >= ..."), and since ("requires an implementation ...").
  for (const wording of ["old", "features"]) {
    await fs.writeFile(path.join(picky, "host.json"), JSON.stringify({ ...host, minNix: "99.0", minNixWording: wording }));
    const ws = await workspace("hello", `picky-${wording}`);
    const flake = await prepareFlake({ workspace: ws, target: target("hello-upper", "0.1.0", "hello-upper"), nixpkgs: `path:${picky}` });
    await assert.rejects(buildFlake(flake, { gcroot: gcroot(`picky-${wording}`) }), (err: unknown) => {
      assert.ok(err instanceof CraftError);
      assert.match(err.message, /requires Nix >= 99\.0.*upgrade Nix, or set FLAKEBOT_NIXPKGS=github:NixOS\/nixpkgs\/nixos-25\.05/);
      return true;
    });
  }
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
  pkgs: ["rustPlatform.buildRustPackage", "pkg-config", "openssl", "mkShell"],
  // pkgs/build-support/rust/build-rust-package/default.nix (+ stdenv.mkDerivation's own:
  // checkPhase, which hooks/cargo-check-hook.sh leaves alone when given and whose
  // cargoCheckHook reads cargoTestFlags and checkFlags)
  buildRustPackage: ["pname", "version", "src", "cargoLock", "buildAndTestSubdir", "cargoBuildFlags", "doCheck", "checkPhase", "cargoTestFlags", "checkFlags", "nativeBuildInputs", "buildInputs", "meta"],
  // pkgs/build-support/rust/import-cargo-lock.nix
  cargoLock: ["lockFile", "outputHashes", "allowBuiltinFetchGit"],
  // the flake schema of `nix run`, `nix build`, `nix flake check` and `nix develop`
  outputs: ["packages", "apps", "checks", "devShells"],
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
    const known = /strict "buildRustPackage" \[([^\]]*)\]/.exec(stubText)![1].match(/"([\w-]+)"/g)!.map((s) => s.slice(1, -1));
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
  // The default pin is the newest stable release: refused up front on a Nix older than 2.18
  // (Debian's 2.8) with what to do, accepted on a newer one.
  const pin = /inputs\.nixpkgs\.url = "([^"]+)"/.exec(FLAKE_NIX)![1];
  assert.equal(pin, "github:NixOS/nixpkgs/nixos-26.05");
  assert.match(nixpkgsIncompatibility("2.8.0", pin) ?? "", /needs Nix 2\.18 or newer; Nix 2\.8\.0 is installed, older than 2\.18: upgrade Nix.*FLAKEBOT_NIXPKGS=github:NixOS\/nixpkgs\/nixos-25\.05/);
  assert.equal(nixpkgsIncompatibility("2.18.0", pin), undefined);
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
    const { ctx } = context("no_nix");
    await assert.rejects(nixPackage(ctx, craftRecord("no_nix", target("hello-upper", "0.1.0", "hello-upper"), ctx.request)), (err: unknown) => {
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
  assert.deepEqual(data, { pname: "shout", version: "1.2.0", bin: "shout", root: "rust", subdir: "crates/shout", cargoBuildFlags: ["--bin", "shout"], cargoTestFlags: ["--no-fail-fast"], checkMode: "gate", checkFlags: ["--color", "never"], outputHashes: {}, openssl: false, pkgConfig: false });
});

test("a crate with crates.io dependencies whose Cargo.lock carries their real checksums is built and tested by Nix", { skip }, async () => {
  const { ctx, lines } = context("kebab");
  await fixtureRepo("kebab", ctx.paths.workspace);
  roots.push(ctx.paths.gcroot);
  // The lock's checksum is crates.io's own, as Debian's registry records it for heck.
  const lock = await fs.readFile(path.join(ctx.paths.workspace, "Cargo.lock"), "utf8");
  const debian = JSON.parse(await fs.readFile(path.join(DEBIAN_REGISTRY, "heck-0.4.0", ".cargo-checksum.json"), "utf8")).package;
  assert.match(debian, /^[0-9a-f]{64}$/);
  assert.ok(lock.includes(`checksum = "${debian}"`));
  const { build, tests } = await nixPackage(ctx, craftRecord("kebab", target("kebab", "0.1.0", "kebab"), ctx.request));
  assert.equal(build?.backend, "nix");
  assert.equal(build?.reproducible, true);
  assert.equal(await run(build!.binary, ["Flakes", "Work"]), "flakes-work\n");
  assert.equal(tests?.passed, 1);
  // One compile: the crate and its dependency were compiled by the nix build only.
  assert.equal(lines.filter((l) => /Compiling heck v0\.4\.0/.test(l)).length, 1);
});

test("a Cargo.lock without crates.io checksums: nixpkgs' way of refusing it, and the craft falls back to cargo, flagged", { skip }, async () => {
  const lockText = await fs.readFile(path.join(fixturesDir, "crates", "flagged", "Cargo.lock"), "utf8");
  assert.match(lockText, /checksum = "Could not get crate checksum"/, "Debian's registry has no checksum for bitflags");
  // What the stand-in (like importCargoLock's fetchurl) says when evaluating such a flake.
  const ws = await workspace("flagged", "flagged-eval");
  await writeFlakeFiles(ws, flakeData(target("flagged", "0.1.0", "flagged"), { root: "", subdir: "" }, lockText));
  await runChecked(["git", "add", "flake.nix", "flakebot.json"], { cwd: ws, env: process.env as Record<string, string> });
  const r = await runNix(["eval", "--raw", "--override-input", "nixpkgs", nixpkgs, "--no-write-lock-file", `git+file://${ws}#packages.x86_64-linux.default.drvPath`], { cwd: ws, timeoutMs: 120_000 });
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr, /hash 'Could not get crate checksum' has wrong length for hash type 'sha256'/);

  // The craft does not get that far: it says why and builds with cargo, not reproducible.
  const { ctx } = context("flagged", { FLAKEBOT_BACKEND: "auto" });
  await fixtureRepo("flagged", ctx.paths.workspace);
  const { build } = await packageStage({ ...ctx, backend: nixBackend, fallback: cargoBackend }, craftRecord("flagged", target("flagged", "0.1.0", "flagged"), ctx.request));
  assert.equal(build?.backend, "cargo");
  assert.equal(build?.reproducible, false);
  assert.match(build?.fallback_reason ?? "", /cannot be built reproducibly by Nix: bitflags 1\.3\.2 has checksum "Could not get crate checksum", not a crates\.io sha256/);
  assert.equal(await run(build!.binary, []), "READ | WRITE\n");
});

/** A craft of an unmodified crate whose branch is pushed to a fork (the fork's flake gates). */
function forkedCraft(name: string, ctx: StageContext): Craft {
  return {
    ...craftRecord(name, target("hello-upper", "0.1.0", "hello-upper"), ctx.request),
    source: { url: "https://github.com/upstream/hello", rev: "v0.1.0", commit: "0".repeat(40), base: "0".repeat(40), fork: `https://github.com/someone/${name}.git`, origin: "git" },
  };
}

/** Adds a test module to the hello fixture's main.rs and commits it, as upstream would have. */
async function withUpstreamTests(ws: string, tests: string, why: string): Promise<void> {
  await fs.appendFile(path.join(ws, "src", "main.rs"), `\n#[cfg(test)]\nmod upstream {\n${tests}}\n`);
  await runChecked(["git", "commit", "-qam", why], { cwd: ws, env: process.env as Record<string, string> });
}

/** The fork's commit (from its github: reference) and the flakebot.json it holds. */
async function forkData(ws: string, flakeRef: string | undefined): Promise<{ commit: string; data: FlakeData }> {
  const commit = /^github:someone\/[\w-]+\/([0-9a-f]{40})$/.exec(flakeRef ?? "")?.[1];
  assert.ok(commit, flakeRef);
  return { commit, data: JSON.parse((await gitLines(ws, ["show", `${commit}:flakebot.json`])).join("\n")) };
}

const builds = (lines: string[]) => lines.filter((l) => /> Executing cargoBuildHook$/.test(l)).length;

test("an unmodified crate whose upstream test fails: one nix build records it as a known failure, and the fork's flake skips it", { skip }, async () => {
  const { ctx, lines } = context("known");
  const ws = await fixtureRepo("hello", ctx.paths.workspace);
  roots.push(ctx.paths.gcroot);
  await withUpstreamTests(ws, '    #[test]\n    fn needs_the_network() {\n        assert!(std::net::TcpStream::connect("192.0.2.1:80").is_ok());\n    }\n', "a test that fails offline");
  const { build, tests } = await nixPackage(ctx, forkedCraft("known", ctx));
  assert.deepEqual(tests?.known_failures, ["src/main.rs::upstream::needs_the_network"]);
  assert.equal(tests?.passed, 2);
  assert.equal(tests?.failed, 0);
  assert.equal(await run(build!.binary, ["ok"]), "OK\n");
  // One compile: one nix build, whose check phase ran the whole suite and saw the failure.
  assert.equal(builds(lines), 1, "one cargoBuildHook in the log");
  assert.equal(lines.filter((l) => /> Executing cargoCheckHook$/.test(l)).length, 1);
  assert.ok(lines.some((l) => /> test upstream::needs_the_network \.\.\. FAILED/.test(l)));
  assert.ok(lines.some((l) => /> flakebot-check: exit status [1-9]\d*$/.test(l)), "the failing check phase did not fail the build");
  // The commit built records; the fork's commit on top of it gates, skipping the known failure.
  const fork = await forkData(ws, build!.flake_ref);
  const built = JSON.parse((await gitLines(ws, ["show", `${fork.commit}~1:flakebot.json`])).join("\n")) as FlakeData;
  assert.equal(built.checkMode, "record");
  assert.deepEqual(built.checkFlags, ["--color", "never"]);
  assert.equal(fork.data.checkMode, "gate");
  assert.deepEqual(fork.data.checkFlags, ["--color", "never", "--exact", "--skip", "upstream::needs_the_network"]);
  // Built as published (nixpkgs from flake.nix's pin, here the stand-in), the fork's flake passes its check.
  const forkBuild = await runNix(
    ["build", "--no-link", "--print-build-logs", "--override-input", "nixpkgs", nixpkgs, "--no-write-lock-file", `${localFlakeRef(ws, fork.commit)}#default`],
    { cwd: env.dir, timeoutMs: 600_000 },
  );
  assert.equal(forkBuild.exitCode, 0, forkBuild.stderr.slice(-3000));
  assert.match(forkBuild.stderr, /test result: ok\. 2 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out/);
  assert.doesNotMatch(forkBuild.stderr, /test upstream::needs_the_network/);
});

test("the check phase tests with the binary's features, as the cargo backend does: a test behind a feature runs in the nix build", { skip }, async () => {
  const { ctx, lines } = context("featured");
  const ws = await fixtureRepo("hello", ctx.paths.workspace);
  roots.push(ctx.paths.gcroot);
  await fs.appendFile(path.join(ws, "Cargo.toml"), '\n[features]\nloud = []\n');
  await withUpstreamTests(ws, '    #[cfg(feature = "loud")]\n    #[test]\n    fn loud_is_on() {}\n', "a test that only exists with the loud feature");
  const record: Craft = { ...craftRecord("featured", { ...target("hello-upper", "0.1.0", "hello-upper"), features: ["loud"] }, ctx.request) };
  const { tests } = await nixPackage(ctx, record);
  const data: FlakeData = JSON.parse(await fs.readFile(path.join(ws, "flakebot.json"), "utf8"));
  assert.deepEqual(data.cargoBuildFlags, ["--bin", "hello-upper", "--features", "loud"]);
  assert.deepEqual(data.cargoTestFlags, ["--no-fail-fast", "--features", "loud"]);
  assert.ok(lines.some((l) => /> test upstream::loud_is_on \.\.\. ok/.test(l)), "the feature's test ran in the check phase");
  assert.equal(tests?.passed, 3);
});

test("an unmodified crate whose own tests do not compile here: one nix build, the cargo backend's known failure, and a fork's flake without a check phase", { skip }, async () => {
  const { ctx, lines } = context("untestable");
  const ws = await fixtureRepo("hello", ctx.paths.workspace);
  roots.push(ctx.paths.gcroot);
  await withUpstreamTests(ws, "    #[test]\n    fn uses_a_newer_api() {\n        assert!(not_in_this_version());\n    }\n", "a test of an API this toolchain lacks");
  const craft = forkedCraft("untestable", ctx);
  const { build, tests } = await nixPackage(ctx, craft);
  assert.equal(build?.backend, "nix");
  assert.equal(await run(build!.binary, ["still", "ships"]), "STILL SHIPS\n");
  assert.equal(builds(lines), 1, "one cargoBuildHook in the log");
  assert.equal(tests?.passed, 0);
  assert.equal(tests?.failed, 0);
  assert.equal(tests?.known_failures?.length, 1);
  assert.match(tests!.known_failures![0], /^the crate's tests do not compile here \(error\[E0425\]: cannot find function `not_in_this_version` in this scope\)$/);
  // The cargo backend reports the same known failure for the same tree.
  const cargo = await testStage({ ...ctx, backend: cargoBackend }, craft);
  assert.deepEqual(cargo.tests?.known_failures, tests?.known_failures);
  // A fork's flake does not run tests that cannot compile, and says why.
  const fork = await forkData(ws, build!.flake_ref);
  assert.equal(fork.data.checkMode, "off");
  assert.equal(fork.data.checkNote, tests!.known_failures![0]);
});

test("a crate changed by the modify loop whose tests fail under Nix fails at the test stage, with no fallback", { skip }, async () => {
  const { ctx } = context("regressed", { FLAKEBOT_BACKEND: "auto" });
  const ws = await fixtureRepo("hello", ctx.paths.workspace);
  await fs.appendFile(path.join(ws, "src", "main.rs"), "\n#[cfg(test)]\nmod added {\n    #[test]\n    fn broken() {\n        assert_eq!(1 + 1, 3);\n    }\n}\n");
  await runChecked(["git", "commit", "-qam", "a change whose test fails"], { cwd: ws, env: process.env as Record<string, string> });
  const craft = { ...craftRecord("regressed", target("hello-upper", "0.1.0", "hello-upper"), ctx.request), modify: { rounds: 1, commits: [], tests_old: 2, tests_new: 3, changed_files: ["src/main.rs"] } };
  await assert.rejects(packageStage({ ...ctx, backend: nixBackend, fallback: cargoBackend }, craft as Craft), (err: unknown) => {
    assert.ok(err instanceof CraftError);
    assert.equal(err.stage, "test");
    assert.match(err.message, /check phase: 1 test\(s\) failed: src\/main\.rs::added::broken/);
    return true;
  });
});

test("git dependencies are pinned by the hash Nix's own fetcher computes for the locked commit", { skip }, async () => {
  const repo = await workspace("hello", "git-dep");
  const commit = (await gitLines(repo, ["rev-parse", "HEAD"]))[0];
  const lockText = `version = 3\n\n[[package]]\nname = "hello-upper"\nversion = "0.1.0"\nsource = "git+file://${repo}?branch=main#${commit}"\n`;
  const review = reviewLock(lockText);
  assert.deepEqual(review.problems, []);
  assert.deepEqual(review.git, [{ url: `file://${repo}`, commit, packages: ["hello-upper-0.1.0"] }]);
  const hashes = await gitOutputHashes(review.git, path.join(env.dir, "scratch"));
  const fetched = await nixOut(["eval", "--raw", "--expr", `(builtins.fetchGit { url = "file://${repo}"; rev = "${commit}"; }).narHash`, "--impure"]);
  assert.deepEqual(hashes, { "hello-upper-0.1.0": fetched });
  assert.doesNotMatch(FLAKE_NIX, /allowBuiltinFetchGit/);
});

test("with Nix's sandbox off, the crate's tests run in a nix build under bwrap: no network, no FLAKEBOT_HOME beyond the tool", { skip }, async () => {
  const { ctx } = context("confined");
  const canary = path.join(ctx.config.home, "canary-secret");
  await fs.mkdir(ctx.config.home, { recursive: true });
  await fs.writeFile(canary, "do not read");
  const listener = net.createServer((s) => s.end()).listen(0, "127.0.0.1");
  await once(listener, "listening");
  const port = (listener.address() as net.AddressInfo).port;
  try {
    const ws = await fixtureRepo("hello", ctx.paths.workspace);
    // As the server's state store makes them: only the server's user may enter a tool's directory.
    await fs.chmod(ctx.paths.dir, 0o700);
    roots.push(ctx.paths.gcroot);
    const probe =
      "\n#[cfg(test)]\nmod confinement {\n" +
      `    #[test]\n    fn cannot_read_flakebot_home() {\n        assert!(std::fs::read(${JSON.stringify(canary)}).is_err());\n    }\n` +
      `    #[test]\n    fn cannot_reach_the_host() {\n        assert!(std::net::TcpStream::connect("127.0.0.1:${port}").is_err());\n    }\n}\n`;
    await fs.appendFile(path.join(ws, "src", "main.rs"), probe);
    await runChecked(["git", "commit", "-qam", "probe the build's confinement"], { cwd: ws, env: process.env as Record<string, string> });
    const craft = { ...craftRecord("confined", target("hello-upper", "0.1.0", "hello-upper"), ctx.request), modify: { rounds: 1, commits: [], tests_old: 2, tests_new: 4, changed_files: ["src/main.rs"] } };
    const { tests } = await nixPackage(ctx, craft as Craft);
    assert.equal(tests?.passed, 4, "both probes passed inside the build");
    assert.equal(tests?.known_failures, undefined);
  } finally {
    listener.close();
  }
});

test("the modify loop's cargo gets the flake's toolchain: the dev shell's PATH, from nix print-dev-env", { skip }, async () => {
  // A stand-in whose toolchain is a wrapper that records its calls, so the test sees whose cargo ran.
  const flakeBin = path.join(env.dir, "flake-toolchain");
  const calls = path.join(env.dir, "flake-cargo-calls");
  await fs.mkdir(flakeBin, { recursive: true });
  const host = JSON.parse(await fs.readFile(path.join(stub, "host.json"), "utf8"));
  const realCargo = path.join(host.toolchainBin, "cargo");
  await fs.writeFile(path.join(flakeBin, "cargo"), `#!/bin/sh\necho "$1" >> ${JSON.stringify(calls)}\nexec ${JSON.stringify(realCargo)} "$@"\n`, { mode: 0o755 });
  await fs.symlink(path.join(host.toolchainBin, "rustc"), path.join(flakeBin, "rustc"));
  const other = path.join(env.dir, "nixpkgs-other-toolchain");
  await fs.cp(stub, other, { recursive: true });
  await fs.writeFile(path.join(other, "host.json"), JSON.stringify({ ...host, toolchainBin: flakeBin }));

  const { ctx } = context("toolchain", { FLAKEBOT_NIXPKGS: `path:${other}` });
  await fixtureRepo("hello", ctx.paths.workspace);
  const t = target("hello-upper", "0.1.0", "hello-upper");
  const toolchain = await nixBackend.toolchain!(ctx, t);
  assert.ok(toolchain.PATH.startsWith(`${flakeBin}:`), toolchain.PATH);
  const built = await cargoBuild(t, { cwd: ctx.paths.workspace, env: toolchain });
  assert.ok(built.ok, built.output);
  assert.deepEqual((await fs.readFile(calls, "utf8")).split("\n").filter(Boolean), ["build"]);
  // The workspace is left alone: the shell's flake lives next to it.
  assert.deepEqual(await gitLines(ctx.paths.workspace, ["status", "--porcelain", "--untracked-files=all", "--", ".", ":!target"]), []);
});

test("a flake pushed to a fork never pins this machine's local nixpkgs", { skip }, async () => {
  const { ctx } = context("forked");
  await fixtureRepo("hello", ctx.paths.workspace);
  roots.push(ctx.paths.gcroot);
  const now = new Date().toISOString();
  const craft: Craft = {
    ...craftRecord("forked", target("hello-upper", "0.1.0", "hello-upper"), ctx.request),
    source: { url: "https://github.com/upstream/hello", rev: "v0.1.0", commit: "0".repeat(40), base: "0".repeat(40), fork: "https://github.com/someone/hello.git", origin: "git" },
    created_at: now,
  };
  const { build } = await nixPackage(ctx, craft);
  const m = /^github:someone\/hello\/([0-9a-f]{40})$/.exec(build!.flake_ref ?? "");
  assert.ok(m, build!.flake_ref);
  const files = await gitLines(ctx.paths.workspace, ["ls-tree", "--name-only", m[1]]);
  assert.ok(files.includes("flake.nix") && files.includes("flakebot.json") && files.includes("Cargo.lock"));
  assert.ok(!files.includes("flake.lock"), "the local path: lock stays off the fork's branch");
  // An unmodified crate's flake recorded its tests; the fork's gates.
  assert.equal(JSON.parse((await gitLines(ctx.paths.workspace, ["show", `${m[1]}:flakebot.json`])).join("\n")).checkMode, "gate");
  const pinned = (await gitLines(ctx.paths.workspace, ["show", `${m[1]}:flake.nix`])).find((l) => l.includes("inputs.nixpkgs.url"));
  assert.match(pinned ?? "", /"github:NixOS\/nixpkgs\/nixos-26\.05"/);
  // The build itself used the commit with the local lock (the store path is the one tested).
  assert.ok(existsSync(build!.binary));
});
