// What the Nix backend does once instead of once per craft, and when it must do it again: the nixpkgs lock
// (reused per pin only while the pinned input is unchanged and in the store), Nix's settings
// (asked again when its configuration changes) and the modify loop's dev shell (asked again
// when nixpkgs changed). With real Nix and the stand-in nixpkgs, as test/nix.test.ts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import path from "node:path";
import { runChecked } from "../src/exec/process.js";
import { nixAvailable, prepareFlake } from "../src/backends/nix/nix.js";
import { lockFreshness, nixpkgsLock, sourceStorePath } from "../src/backends/nix/nixpkgs-lock.js";
import { nixSandboxSetting } from "../src/backends/nix/sandbox.js";
import { flakeToolchainEnv } from "../src/backends/nix/toolchain.js";
import { runNix } from "../src/backends/nix/cli.js";
import { findOnPath } from "../src/exec/which.js";
import type { TargetInfo } from "../src/model/craft.js";
import { fixtureRepo, testEnv, type TestEnv } from "./helpers/offline.js";
import { OFFLINE_NIX_CONFIG, prepareNixpkgsStub } from "./helpers/nix-stub.js";

let env: TestEnv;
const saved: Record<string, string | undefined> = {};
const nix = await nixAvailable();
const skip = nix.available ? false : `no usable nix: ${nix.reason}`;

function setEnv(name: string, value: string | undefined): void {
  if (!(name in saved)) saved[name] = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

before(async () => {
  if (skip) return;
  env = await testEnv();
  setEnv("CARGO_HOME", env.env.CARGO_HOME);
  setEnv("NIX_CONFIG", OFFLINE_NIX_CONFIG);
});

after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (env) await fs.rm(env.dir, { recursive: true, force: true });
});

const HELLO: TargetInfo = { package: "hello-upper", version: "0.1.0", bin: "hello-upper", dir: "", in_workspace: false, has_lockfile: true };

/** A stand-in nixpkgs of its own at `env.dir/<name>`: its path is its pin. */
async function stubAt(name: string): Promise<{ nixpkgs: string; dir: string }> {
  const base = path.join(env.dir, name);
  await fs.mkdir(base, { recursive: true });
  const nixpkgs = await prepareNixpkgsStub(base);
  return { nixpkgs, dir: nixpkgs.slice("path:".length) };
}

async function retag(dir: string, change: Record<string, unknown>): Promise<void> {
  const host = JSON.parse(await fs.readFile(path.join(dir, "host.json"), "utf8"));
  await fs.writeFile(path.join(dir, "host.json"), JSON.stringify({ ...host, ...change }));
}

/** What `nix hash path` says the directory's NAR hash is now (what a fresh lock pins). */
async function narHashNow(dir: string): Promise<string> {
  const r = await runNix(["hash", "path", dir], { cwd: env.dir, timeoutMs: 60_000 });
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.trim();
}

/**
 * Runs `body` with a nix on PATH that records its subcommands, and returns how many runs
 * of each there were (what the caches saved is what nix was not asked).
 */
async function countingNix(name: string, body: () => Promise<void>): Promise<(sub: string) => number> {
  const real = findOnPath("nix");
  assert.ok(real, "nix on PATH");
  const dir = path.join(env.dir, "counting-nix", name);
  const calls = path.join(dir, "calls");
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, "nix"), `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
  const path0 = process.env.PATH;
  process.env.PATH = `${dir}:${path0}`;
  try {
    await body();
  } finally {
    process.env.PATH = path0;
  }
  const lines = (await fs.readFile(calls, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return (sub) => lines.filter((l) => l.includes(` ${sub} `) || l.endsWith(` ${sub}`)).length;
}

function lockedNixpkgs(lockText: string): { narHash: string; path?: string; type: string } {
  return JSON.parse(lockText).nodes.nixpkgs.locked;
}

test("which pins a lock can be reused for, and how long", () => {
  assert.deepEqual(lockFreshness("github:NixOS/nixpkgs/0123456789abcdef0123456789abcdef01234567"), { kind: "pinned" });
  assert.deepEqual(lockFreshness("git+https://example.org/nixpkgs?rev=0123456789abcdef0123456789abcdef01234567"), { kind: "pinned" });
  assert.deepEqual(lockFreshness("github:NixOS/nixpkgs/nixos-26.05"), { kind: "ttl" });
  assert.deepEqual(lockFreshness("https://example.org/nixexprs.tar.xz"), { kind: "ttl" });
  assert.deepEqual(lockFreshness("path:/srv/nixpkgs"), { kind: "path", dir: "/srv/nixpkgs" });
  // A local git checkout moves with its HEAD, a registry name with the registry: locked every time.
  assert.equal(lockFreshness("git+file:///srv/nixpkgs"), undefined);
  assert.equal(lockFreshness("nixpkgs"), undefined);
  assert.equal(lockFreshness("path:relative/dir"), undefined);
});

test("a lock's sources are found in the store where Nix keeps them", { skip }, async () => {
  const { nixpkgs } = await stubAt("store-path");
  const { narHash } = lockedNixpkgs(await nixpkgsLock(nixpkgs, { scratch: env.dir }));
  const printed = await runChecked(["nix-store", "--print-fixed-path", "--recursive", "sha256", narHash, "source"], { cwd: env.dir, env: process.env as Record<string, string> });
  assert.equal(sourceStorePath(narHash), printed.stdout.trim());
  assert.ok(existsSync(sourceStorePath(narHash)!), "locking put the source in the store");
  assert.equal(sourceStorePath("sha256-short"), undefined);
});

test("the nixpkgs lock is reused for the same pin, and never for another pin or a changed input", { skip }, async () => {
  const one = await stubAt("pin-one");
  const two = await stubAt("pin-two");
  await fs.copyFile(path.join(one.dir, "host.json"), path.join(two.dir, "host.json"));
  const opts = { scratch: env.dir };
  const runs = await countingNix("locks", async () => {
    const first = await nixpkgsLock(one.nixpkgs, opts);
    assert.equal(lockedNixpkgs(first).path, one.dir);
    assert.equal(lockedNixpkgs(first).narHash, await narHashNow(one.dir));
    assert.equal(await nixpkgsLock(one.nixpkgs, opts), first, "the same pin, unchanged: the same lock");

    // Another pin with the very same content: its own lock, naming its own path.
    assert.equal(lockedNixpkgs(await nixpkgsLock(two.nixpkgs, opts)).path, two.dir);

    // The pinned directory changed: the lock follows it, as a fresh `nix flake lock` would.
    await retag(one.dir, { testRun: "changed" });
    const changed = await nixpkgsLock(one.nixpkgs, opts);
    assert.notEqual(lockedNixpkgs(changed).narHash, lockedNixpkgs(first).narHash);
    assert.equal(lockedNixpkgs(changed).narHash, await narHashNow(one.dir));
    // A file added (nothing else touched) counts as a change too.
    await fs.writeFile(path.join(one.dir, "extra.nix"), "{ }\n");
    assert.equal(lockedNixpkgs(await nixpkgsLock(one.nixpkgs, opts)).narHash, await narHashNow(one.dir));
  });
  assert.equal(runs("lock"), 4, "one `nix flake lock` per pin and content: the repeat was the cached lock");
});

test("a cached lock whose source left the store is made again (a confined build could not fetch it)", { skip }, async () => {
  const pin = await stubAt("pin-collected");
  const first = await nixpkgsLock(pin.nixpkgs, { scratch: env.dir });
  const source = sourceStorePath(lockedNixpkgs(first).narHash)!;
  const deleted = await runNix(["store", "delete", source], { cwd: env.dir, timeoutMs: 60_000 });
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  assert.ok(!existsSync(source));
  const lines: string[] = [];
  const again = await nixpkgsLock(pin.nixpkgs, { scratch: env.dir, log: (l) => lines.push(l) });
  assert.equal(again, first, "the same content locks the same way");
  assert.ok(!lines.some((l) => /as locked/.test(l)), "locked by nix again");
  assert.ok(existsSync(source), "and the source is back in the store");
});

test("the flake a craft commits pins nixpkgs as it is now, after the stand-in changed between two crafts", { skip }, async () => {
  const pin = await stubAt("pin-crafts");
  const first = await prepareFlake({ workspace: await fixtureRepo("hello", path.join(env.dir, "ws", "first")), target: HELLO, nixpkgs: pin.nixpkgs, scratch: env.dir });
  await retag(pin.dir, { testRun: "second craft" });
  const second = await prepareFlake({ workspace: await fixtureRepo("hello", path.join(env.dir, "ws", "second")), target: HELLO, nixpkgs: pin.nixpkgs, scratch: env.dir });
  const committed = async (ws: string, commit: string) =>
    lockedNixpkgs((await runChecked(["git", "show", `${commit}:flake.lock`], { cwd: ws, env: process.env as Record<string, string> })).stdout);
  const [a, b] = [await committed(first.workspace, first.commit), await committed(second.workspace, second.commit)];
  assert.notEqual(a.narHash, b.narHash);
  assert.equal(b.narHash, await narHashNow(pin.dir));
  // Nix evaluates the second flake against the changed stand-in.
  const r = await runNix(["eval", "--raw", `${second.ref}#packages.x86_64-linux.default.name`], { cwd: env.dir, timeoutMs: 120_000 });
  assert.equal(r.exitCode, 0, r.stderr);
});

test("Nix's sandbox setting is asked again when its configuration changes", { skip }, async () => {
  assert.equal((await nixSandboxSetting()).sandbox, false, "OFFLINE_NIX_CONFIG turns it off");
  setEnv("NIX_CONFIG", `${OFFLINE_NIX_CONFIG.replace("sandbox = false", "sandbox = true")}`);
  try {
    assert.equal((await nixSandboxSetting()).sandbox, true);
  } finally {
    setEnv("NIX_CONFIG", OFFLINE_NIX_CONFIG);
  }
  assert.equal((await nixSandboxSetting()).sandbox, false);

  // The same NIX_CONFIG, a nix.conf that changes (NIX_CONF_DIR: the system file).
  const confDir = path.join(env.dir, "nix-conf");
  await fs.mkdir(confDir, { recursive: true });
  const base = await fs.readFile("/etc/nix/nix.conf", "utf8").catch(() => "");
  setEnv("NIX_CONFIG", "substituters =\nbuild-users-group =");
  setEnv("NIX_CONF_DIR", confDir);
  try {
    await fs.writeFile(path.join(confDir, "nix.conf"), `${base}\nsandbox = false\n`);
    assert.equal((await nixSandboxSetting()).sandbox, false);
    await fs.writeFile(path.join(confDir, "nix.conf"), `${base}\nsandbox = true\n`);
    assert.equal((await nixSandboxSetting()).sandbox, true);
    await fs.writeFile(path.join(confDir, "nix.conf"), `${base}\nsandbox = false\ntarball-ttl = 7\n`);
    assert.deepEqual(await nixSandboxSetting().then((s) => [s.sandbox, s.tarballTtl]), [false, 7]);
  } finally {
    setEnv("NIX_CONF_DIR", saved.NIX_CONF_DIR);
    setEnv("NIX_CONFIG", OFFLINE_NIX_CONFIG);
  }
});

test("the modify loop's dev shell is shared by crates with the same needs, and follows a changed nixpkgs", { skip }, async () => {
  const pin = await stubAt("pin-shell");
  const host = JSON.parse(await fs.readFile(path.join(pin.dir, "host.json"), "utf8"));
  const bins = async (name: string) => {
    const dir = path.join(env.dir, "toolchain-bins", name);
    await fs.mkdir(dir, { recursive: true });
    for (const tool of ["cargo", "rustc"]) await fs.symlink(path.join(host.toolchainBin, tool), path.join(dir, tool));
    await retag(pin.dir, { toolchainBin: dir });
    return dir;
  };
  const shellOf = async (crate: string) => {
    const ws = await fixtureRepo("hello", path.join(env.dir, "ws", `shell-${crate}`));
    return (await flakeToolchainEnv({ cargoRoot: ws, target: { ...HELLO, package: crate, bin: crate }, nixpkgs: pin.nixpkgs, dir: path.join(env.dir, "shells", crate) })).PATH;
  };
  const runs = await countingNix("shells", async () => {
    const first = await bins("first");
    const a = await shellOf("tool-a");
    assert.ok(a.startsWith(`${first}:`), a);
    // Another crate, the same nixpkgs and needs: the same shell.
    assert.equal(await shellOf("tool-b"), a);
    // nixpkgs now names another toolchain: the shell is asked again, not remembered.
    const second = await bins("second");
    const c = await shellOf("tool-c");
    assert.ok(c.startsWith(`${second}:`), c);
  });
  assert.equal(runs("print-dev-env"), 2);
});

test("the flake's commit, branch and the changes it left out come from one git status", { skip }, async () => {
  const pin = await stubAt("pin-status");
  const ws = await fixtureRepo("hello", path.join(env.dir, "ws", "status"));
  await fs.appendFile(path.join(ws, "src", "main.rs"), "// not committed\n");
  // A flake.lock left as a link to a host file is replaced, never written through.
  const canary = path.join(env.dir, "canary-lock");
  await fs.writeFile(canary, "host file\n");
  await fs.symlink(canary, path.join(ws, "flake.lock"));
  const lines: string[] = [];
  const flake = await prepareFlake({ workspace: ws, target: HELLO, nixpkgs: pin.nixpkgs, scratch: env.dir, log: (l) => lines.push(l) });
  const git = async (args: string[]) => (await runChecked(["git", ...args], { cwd: ws, env: process.env as Record<string, string> })).stdout.trim();
  assert.equal(flake.commit, await git(["rev-parse", "HEAD"]));
  assert.equal(flake.branch, await git(["rev-parse", "--abbrev-ref", "HEAD"]));
  assert.ok(flake.branch, "the fixture repository is on a branch");
  assert.equal(await fs.readFile(canary, "utf8"), "host file\n");
  assert.ok((await fs.lstat(path.join(ws, "flake.lock"))).isFile());
  assert.ok(lines.some((l) => /uncommitted changes are not part of the Nix build \(it builds commit [0-9a-f]{40}\):\n\.M src\/main\.rs$/.test(l)), lines.join("\n"));
});

test("a remote nixpkgs branch's lock lives as long as Nix's own tarball-ttl", { skip }, async () => {
  // A tarball URL on loopback stands for a remote branch: what it serves can change.
  const pin = await stubAt("pin-remote");
  const tarball = path.join(env.dir, "nixpkgs-remote.tar.gz");
  const pack = () => runChecked(["tar", "-czf", tarball, "-C", path.dirname(pin.dir), path.basename(pin.dir)], { cwd: env.dir, env: process.env as Record<string, string> });
  await pack();
  const server = http.createServer((_req, res) => void fs.readFile(tarball).then((b) => res.end(b), () => res.writeHead(500).end())).listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/nixpkgs.tar.gz`;
  assert.deepEqual(lockFreshness(url), { kind: "ttl" });
  const withTtl = (ttl: number) => setEnv("NIX_CONFIG", `${OFFLINE_NIX_CONFIG}\ntarball-ttl = ${ttl}`);
  try {
    const runs = await countingNix("remote", async () => {
      withTtl(3600);
      const first = await nixpkgsLock(url, { scratch: env.dir });
      assert.equal(lockedNixpkgs(first).type, "tarball");
      // What the URL serves changes; within the TTL Nix itself would not look.
      await retag(pin.dir, { testRun: "moved on" });
      await pack();
      assert.equal(await nixpkgsLock(url, { scratch: env.dir }), first);
      // With a TTL of 0 Nix looks every time, and so does the lock.
      withTtl(0);
      const moved = await nixpkgsLock(url, { scratch: env.dir });
      assert.notEqual(lockedNixpkgs(moved).narHash, lockedNixpkgs(first).narHash);
    });
    assert.equal(runs("lock"), 2);
  } finally {
    setEnv("NIX_CONFIG", OFFLINE_NIX_CONFIG);
    server.close();
  }
});
