// Acquiring a published crate, offline: upstream repositories are local git repositories
// reached through https://github.com/ URLs (insteadOf), crates.io and GitHub are local
// stand-ins. Real git, real tar, real cargo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { CraftError } from "../src/model/errors.js";
import { makeAcquireCrate } from "../src/craft/acquire/from-crate.js";
import { acquireSource } from "../src/craft/acquire/from-source.js";
import { pushBranch, deleteFork } from "../src/sources/fork.js";
import { CratesIoClient } from "../src/sources/cratesio.js";
import { pushWithToken, writeAskpass } from "../src/sources/github.js";
import { cargoBuild } from "../src/backends/cargo/cargo.js";
import { runChecked, runProcess } from "../src/exec/process.js";
import { craftedEnv } from "../src/exec/env.js";
import type { Craft, CrateInfo } from "../src/model/craft.js";
import { HEXYL_TARGET_DIR, fixturesDir, tempDir } from "./helpers/offline.js";
import { makeCrateArchive, startCratesIo, type CratesIoStandIn, type StandInCrate } from "./fixtures/far-ends/cratesio.js";
import { startGithub, type GithubStandIn } from "./fixtures/far-ends/github.js";
import { startGitHttp } from "./fixtures/far-ends/git-http.js";
import { duoUpstream, hexCatalogue, hexylUpstream, stageSetup, useOfflineWorld } from "./fixtures/far-ends/upstreams.js";

const TOKEN = "ghp_standin_token_0123456789";
let work: string;
let reposRoot: string;
let hexyl: { tagCommit: string; headCommit: string };
let duo: { tagCommit: string };
let hexpeekArchive: Buffer;
let cratesio: CratesIoStandIn;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  work = await tempDir("flakebot-acquire-");
  ({ reposRoot } = await useOfflineWorld(work));
  hexyl = await hexylUpstream(reposRoot);
  duo = await duoUpstream(reposRoot);
  hexpeekArchive = await makeCrateArchive(path.join(fixturesDir, "crates", "hexpeek"), "hexpeek", "0.2.1", work);
  cratesio = await startCratesIo(hexCatalogue({ hexpeek: hexpeekArchive }));
  closers.push(() => cratesio.close());
});

after(async () => {
  for (const close of closers) await close();
  await fs.rm(work, { recursive: true, force: true });
});

function quick(url: string): CratesIoClient {
  return new CratesIoClient(url, { minIntervalMs: 10, backoffMs: 10, retries: 1 });
}

function setup(tool: string, crate: CrateInfo, extraEnv: Record<string, string> = {}, cratesUrl = cratesio.url) {
  const s = stageSetup({ FLAKEBOT_HOME: path.join(work, "flakebot-home"), FLAKEBOT_CRATES_IO_URL: cratesUrl, ...extraEnv }, tool, {
    instructions: "show a hex dump of a file",
  });
  s.craft.crate = crate;
  return s;
}

async function gitOut(dir: string, args: string[]): Promise<string> {
  return (await runChecked(["git", ...args], { cwd: dir, env: process.env as Record<string, string> })).stdout.trim();
}

const HEXYL: CrateInfo = { name: "hexyl", version: "0.8.0", repository: "https://github.com/sharkdp/hexyl" };

test("hexyl is cloned at the tag of its published version, on the tool's branch, and builds into a working hex viewer", async () => {
  const { ctx, craft } = setup("hexdump", HEXYL);
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  const ws = ctx.paths.workspace;
  assert.equal(result.source!.origin, "git");
  assert.equal(result.source!.url, "https://github.com/sharkdp/hexyl");
  assert.equal(result.source!.rev, "v0.8.0");
  assert.equal(result.source!.commit, hexyl.tagCommit);
  assert.equal(result.source!.base, hexyl.tagCommit);
  assert.equal(result.source!.note, undefined);
  assert.equal(result.source!.fork, undefined);
  assert.equal(await gitOut(ws, ["rev-parse", "HEAD"]), hexyl.tagCommit);
  assert.notEqual(hexyl.tagCommit, hexyl.headCommit);
  assert.equal(await gitOut(ws, ["rev-parse", "--abbrev-ref", "HEAD"]), "flakebot/hexdump");
  assert.equal(await gitOut(ws, ["rev-parse", "--is-shallow-repository"]), "true");
  assert.deepEqual(
    { package: result.target!.package, bin: result.target!.bin, version: result.target!.version, dir: result.target!.dir },
    { package: "hexyl", bin: "hexyl", version: "0.8.0", dir: "" },
  );
  // nothing was asked of crates.io: the repository had the crate
  assert.equal(cratesio.requests.filter((r) => r.path.includes("/hexyl")).length, 0);

  process.env.CARGO_TARGET_DIR = HEXYL_TARGET_DIR; // hexyl's dependencies compile once per machine
  const built = await cargoBuild(result.target!, { cwd: ws, timeoutMs: 900_000 }).finally(() => delete process.env.CARGO_TARGET_DIR);
  assert.ok(built.ok, built.output);
  const binary = path.join(work, "hexyl.bin"); // a private copy: the shared target is rebuilt by other files
  await fs.copyFile(built.executable!, binary);
  const sample = path.join(work, "sample.bin");
  await fs.writeFile(sample, "Hello, hexyl!\n");
  const run = await runProcess([binary, "--color=never", sample], { cwd: work, env: craftedEnv(work), timeoutMs: 30_000 });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, /48 65 6c 6c 6f 2c 20 68/); // "Hello, h"
  assert.match(run.stdout, /Hello, h/);
});

test("a version without a tag: the default branch is cloned and the result says so", async () => {
  const { ctx, craft } = setup("hexdump_next", { ...HEXYL, version: "0.8.1" });
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  assert.equal(result.source!.origin, "git");
  assert.equal(result.source!.rev, "main");
  assert.equal(result.source!.commit, hexyl.headCommit);
  assert.match(result.source!.note!, /no tag for the published version 0\.8\.1 \(looked for v0\.8\.1, 0\.8\.1, hexyl-v0\.8\.1, hexyl-0\.8\.1/);
  assert.match(result.source!.note!, /cloned the default branch main/);
  assert.match(result.source!.note!, /the checked-out hexyl is version 0\.8\.0, not 0\.8\.1/);
});

test("a crate inside a workspace is found by its package name, at its {crate}-v{version} tag", async () => {
  const { ctx, craft } = setup("wordcount", { name: "duo-cli", version: "0.3.0", repository: "https://github.com/example/duo/tree/main/duo-cli" });
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  assert.equal(result.source!.url, "https://github.com/example/duo");
  assert.equal(result.source!.rev, "duo-cli-v0.3.0");
  assert.equal(result.source!.commit, duo.tagCommit);
  assert.deepEqual(
    { package: result.target!.package, bin: result.target!.bin, dir: result.target!.dir, in_workspace: result.target!.in_workspace },
    { package: "duo-cli", bin: "duo", dir: "duo-cli", in_workspace: true },
  );
});

test("no repository: the published archive is downloaded, verified, unpacked into a fresh git repository", async () => {
  const { ctx, craft } = setup("peek", { name: "hexpeek", version: "0.2.1" });
  const before = cratesio.requests.length;
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  const ws = ctx.paths.workspace;
  assert.equal(result.source!.origin, "archive");
  assert.equal(result.source!.url, `${cratesio.url}/api/v1/crates/hexpeek/0.2.1/download`);
  assert.equal(result.source!.rev, "0.2.1");
  assert.match(result.source!.note!, /hexpeek names no repository; used the published archive/);
  assert.equal(await gitOut(ws, ["rev-parse", "HEAD"]), result.source!.commit);
  assert.equal(await gitOut(ws, ["rev-parse", "--abbrev-ref", "HEAD"]), "flakebot/peek");
  assert.equal(await gitOut(ws, ["status", "--porcelain"]), "");
  assert.deepEqual(await fs.readFile(path.join(ws, "src", "main.rs")), await fs.readFile(path.join(fixturesDir, "crates", "hexpeek", "src", "main.rs")));
  assert.equal(result.target!.bin, "hexpeek");
  // the version record (for the checksum), the download, then the redirect to the file
  const paths = cratesio.requests.slice(before).map((r) => r.path);
  assert.deepEqual(paths, ["/api/v1/crates/hexpeek/0.2.1", "/api/v1/crates/hexpeek/0.2.1/download", "/static/crates/hexpeek/hexpeek-0.2.1.crate"]);
  assert.ok(!existsSync(path.join(ctx.paths.dir, "download")), "the downloaded archive is cleaned up");
});

async function otherCratesIo(crate: StandInCrate): Promise<CratesIoStandIn> {
  const s = await startCratesIo([crate]);
  closers.push(() => s.close());
  return s;
}

test("an archive that does not match its published checksum is rejected and never unpacked", async () => {
  const s = await otherCratesIo({
    ...hexCatalogue().find((c) => c.name === "hexpeek")!,
    versions: [{ num: "0.2.1", bin_names: ["hexpeek"], created_at: new Date().toISOString(), archive: hexpeekArchive, checksum: "ab".repeat(32) }],
  });
  const { ctx, craft } = setup("peek_bad", { name: "hexpeek", version: "0.2.1" }, {}, s.url);
  await assert.rejects(makeAcquireCrate({ client: quick(s.url) })(ctx, craft), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "acquire");
    assert.match(err.message, /does not match its published checksum \(expected sha256 abab/);
    return true;
  });
  assert.ok(!existsSync(path.join(ctx.paths.workspace, "Cargo.toml")));
});

test("an archive with an entry escaping its directory, or a link, is refused before anything is unpacked", async () => {
  const stage = await tempDir("flakebot-evil-");
  await fs.cp(path.join(fixturesDir, "crates", "hexpeek"), path.join(stage, "hexpeek-0.2.1"), { recursive: true });
  await fs.writeFile(path.join(stage, "escape.txt"), "outside\n");
  const env = process.env as Record<string, string>;
  const evil = path.join(stage, "evil.crate");
  // -P keeps the leading "../" that tar would otherwise strip
  await runChecked(["tar", "-czPf", evil, "--transform", "s,^escape.txt,hexpeek-0.2.1/../../escape.txt,", "hexpeek-0.2.1", "escape.txt"], { cwd: stage, env });
  await fs.symlink("/etc/passwd", path.join(stage, "hexpeek-0.2.1", "link"));
  const linked = path.join(stage, "linked.crate");
  await runChecked(["tar", "-czf", linked, "hexpeek-0.2.1"], { cwd: stage, env });
  for (const [archive, why] of [
    [evil, /has an entry outside hexpeek-0\.2\.1\/ \("hexpeek-0\.2\.1\/\.\.\/\.\.\/escape\.txt"\)/],
    [linked, /has an entry that is not a plain file or directory \("hexpeek-0\.2\.1\/link"\)/],
  ] as const) {
    const s = await otherCratesIo({ name: "hexpeek", downloads: 1, updated_at: new Date().toISOString(), versions: [{ num: "0.2.1", created_at: new Date().toISOString(), archive: await fs.readFile(archive) }] });
    const { ctx, craft } = setup("peek_evil", { name: "hexpeek", version: "0.2.1" }, {}, s.url);
    await assert.rejects(makeAcquireCrate({ client: quick(s.url) })(ctx, craft), why);
    assert.ok(!existsSync(path.join(ctx.paths.workspace, "Cargo.toml")));
    assert.ok(!existsSync(path.join(ctx.paths.dir, "escape.txt")) && !existsSync(path.join(path.dirname(ctx.paths.dir), "escape.txt")));
  }
  await fs.rm(stage, { recursive: true, force: true });
});

test("a repository that cannot be cloned, or that lacks the crate, falls back to the archive and says why", async () => {
  const missing = setup("peek_missing", { name: "hexpeek", version: "0.2.1", repository: "https://github.com/nobody/hexpeek" });
  const a = await makeAcquireCrate({ client: quick(cratesio.url) })(missing.ctx, missing.craft);
  assert.equal(a.source!.origin, "archive");
  assert.match(a.source!.note!, /cloning https:\/\/github\.com\/nobody\/hexpeek failed \(.+\); used the published archive instead/);
  assert.ok(existsSync(path.join(missing.ctx.paths.workspace, "src", "main.rs")));

  const elsewhere = setup("peek_elsewhere", { name: "hexpeek", version: "0.2.1", repository: "https://github.com/example/duo" });
  const b = await makeAcquireCrate({ client: quick(cratesio.url) })(elsewhere.ctx, elsewhere.craft);
  assert.equal(b.source!.origin, "archive");
  assert.match(b.source!.note!, /https:\/\/github\.com\/example\/duo does not hold the crate: it has no package named hexpeek \(packages: duo-core, duo-cli\)/);
  assert.equal(b.target!.package, "hexpeek");
});

async function github(login: string, neverReady = false, hollowForks = false): Promise<GithubStandIn> {
  const gh = await startGithub({ reposRoot, token: TOKEN, login, neverReady, hollowForks });
  closers.push(() => gh.close());
  return gh;
}

test("with a token: the upstream is forked, the fork cloned at the tag, the branch pushed, the fork deleted on dispose", async () => {
  const gh = await github("flakebot-test");
  const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url };
  const { ctx, craft } = setup("hexfork", HEXYL, env);
  const result = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(ctx, craft);
  const source = result.source!;
  assert.equal(source.origin, "git");
  assert.equal(source.url, "https://github.com/sharkdp/hexyl");
  assert.equal(source.fork, "https://github.com/flakebot-test/hexyl");
  assert.equal(source.fork_created, true);
  assert.equal(source.rev, "v0.8.0");
  assert.equal(source.commit, hexyl.tagCommit);
  assert.deepEqual(gh.forks, ["flakebot-test/hexyl"]);
  const forkDir = path.join(reposRoot, "flakebot-test", "hexyl.git");
  // the workspace came from the fork, not the upstream
  assert.equal(await gitOut(ctx.paths.workspace, ["config", "remote.origin.url"]), "https://github.com/flakebot-test/hexyl.git");

  // a change, as the modify stage makes, then the push once the craft is ready
  await fs.appendFile(path.join(ctx.paths.workspace, "README.md"), "\nCrafted by Flakebot.\n");
  await gitOut(ctx.paths.workspace, ["commit", "-q", "-am", "flakebot: change"]);
  const head = await gitOut(ctx.paths.workspace, ["rev-parse", "HEAD"]);
  const pushed = await pushBranch(ctx, { ...craft, ...result } as Craft);
  assert.deepEqual(pushed, { pushed: true, branch: "flakebot/hexfork", message: "pushed flakebot/hexfork to https://github.com/flakebot-test/hexyl" });
  assert.equal(await gitOut(forkDir, ["rev-parse", "refs/heads/flakebot/hexfork"]), head);
  assert.equal(await gitOut(path.join(reposRoot, "sharkdp", "hexyl"), ["branch", "--list", "flakebot/*"]), "", "the upstream is untouched");

  // a second craft of the same upstream reuses the fork, and its dispose keeps it
  const second = setup("hexfork_two", HEXYL, env);
  const again = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(second.ctx, second.craft);
  assert.equal(again.source!.fork, "https://github.com/flakebot-test/hexyl");
  assert.equal(again.source!.fork_created, false);
  assert.deepEqual(gh.forks, ["flakebot-test/hexyl"]);
  assert.deepEqual(await deleteFork(ctx.config, again.source, "hexfork_two"), { deleted: false, message: "kept the fork https://github.com/flakebot-test/hexyl: it existed before this server used it" });
  assert.ok(existsSync(forkDir));

  assert.deepEqual(await deleteFork(ctx.config, source, "hexfork"), { deleted: true, message: "deleted the fork https://github.com/flakebot-test/hexyl" });
  assert.deepEqual(gh.deleted, ["flakebot-test/hexyl"]);
  assert.ok(!existsSync(forkDir));
  assert.deepEqual(await deleteFork(ctx.config, source, "hexfork"), { deleted: false, message: "the fork https://github.com/flakebot-test/hexyl was already gone" });
});

test("without a token nothing is forked or pushed", async () => {
  const { ctx, craft } = setup("hexnofork", HEXYL);
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  assert.equal(result.source!.fork, undefined);
  const pushed = await pushBranch(ctx, { ...craft, ...result } as Craft);
  assert.equal(pushed.pushed, false);
});

test("a token GitHub refuses: the upstream is cloned, the result says why, and nothing will be pushed", async () => {
  const gh = await github("flakebot-test");
  const bad = "ghp_refused_token_5555555555";
  const { ctx, craft } = setup("hexrefused", HEXYL, { GITHUB_TOKEN: bad, GITHUB_API_URL: gh.url });
  const result = await makeAcquireCrate({ client: quick(cratesio.url) })(ctx, craft);
  assert.equal(result.source!.origin, "git");
  assert.equal(result.source!.fork, undefined);
  assert.equal(result.source!.commit, hexyl.tagCommit);
  assert.match(result.source!.note!, /could not fork on GitHub \(reading the GitHub account of GITHUB_TOKEN failed \(401\).*GITHUB_TOKEN was refused: check that it is valid\): cloned the upstream, nothing will be pushed/);
  assert.equal(result.source!.fork_note, result.source!.note, "kept apart for the ready message");
  assert.ok(!result.source!.note!.includes(bad));
  assert.equal((await pushBranch(ctx, { ...craft, ...result } as Craft)).pushed, false);
});

test("a fork that answers but cannot be cloned yet: the upstream is cloned, and the fork still receives the push", async () => {
  const gh = await github("copying-account", false, true);
  const { ctx, craft } = setup("hexhollow", HEXYL, { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url });
  const result = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(ctx, craft);
  assert.equal(result.source!.origin, "git");
  assert.equal(result.source!.fork, "https://github.com/copying-account/hexyl");
  assert.equal(result.source!.commit, hexyl.tagCommit);
  assert.match(result.source!.note!, /cloning https:\/\/github\.com\/copying-account\/hexyl\.git failed \(.+\); cloned https:\/\/github\.com\/sharkdp\/hexyl instead/);
  // by the time the craft is ready GitHub has copied the fork
  await runChecked(["git", "clone", "--bare", "--quiet", path.join(reposRoot, "sharkdp", "hexyl"), path.join(reposRoot, "copying-account", "hexyl.git")], {
    cwd: reposRoot,
    env: process.env as Record<string, string>,
  });
  const pushed = await pushBranch(ctx, { ...craft, ...result } as Craft);
  assert.equal(pushed.pushed, true);
  assert.equal(await gitOut(path.join(reposRoot, "copying-account", "hexyl.git"), ["rev-parse", "refs/heads/flakebot/hexhollow"]), hexyl.tagCommit);
});

test("a fork that never becomes ready: a bounded wait, then a clear error", async () => {
  const gh = await github("slow-account", true);
  const { ctx, craft } = setup("hexslow", HEXYL, { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url });
  const started = Date.now();
  await assert.rejects(makeAcquireCrate({ client: quick(cratesio.url), forkReadyTimeoutMs: 1000, forkPollMs: 100 })(ctx, craft), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "acquire");
    assert.match(err.message, /the fork https:\/\/github\.com\/slow-account\/hexyl was created but did not become ready within 1 s \(last answer: status 404\)/);
    assert.match(err.message, /try again in a minute/);
    return true;
  });
  const waited = Date.now() - started;
  assert.ok(waited >= 900 && waited < 5000, `waited ${waited} ms`);
  const polls = gh.requests.filter((r) => r.method === "GET" && r.path === "/repos/slow-account/hexyl").length;
  assert.ok(polls >= 5 && polls <= 13, `${polls} polls`);
});

test("the account already forked the upstream under another name: GitHub hands that fork back; it is the user's, and dispose keeps it", async () => {
  const login = "has-a-fork";
  const users = path.join(reposRoot, login, "my-hexyl.git");
  await runChecked(["git", "clone", "--bare", "--quiet", path.join(reposRoot, "sharkdp", "hexyl"), users], { cwd: reposRoot, env: process.env as Record<string, string> });
  await gitOut(users, ["branch", "users-own-work", "v0.7.0"]);
  const gh = await startGithub({ reposRoot, token: TOKEN, login, existingForks: { [`${login}/my-hexyl`]: "sharkdp/hexyl" } });
  closers.push(() => gh.close());
  const { ctx, craft } = setup("hexexisting", HEXYL, { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url });
  const result = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(ctx, craft);
  const source = result.source!;
  assert.equal(source.fork, `https://github.com/${login}/my-hexyl`);
  assert.equal(source.fork_created, false, "GitHub's answer named an existing fork: not ours");
  assert.match(source.fork_note!, /used the fork https:\/\/github\.com\/has-a-fork\/my-hexyl that the GITHUB_TOKEN account already had; dispose keeps it/);
  assert.ok(gh.requests.some((r) => r.method === "POST" && r.path === "/repos/sharkdp/hexyl/forks"), "the fork request was made");
  assert.deepEqual(await deleteFork(ctx.config, source, "hexexisting"), { deleted: false, message: `kept the fork https://github.com/${login}/my-hexyl: it existed before this server used it` });
  assert.deepEqual(gh.deleted, []);
  assert.ok(existsSync(users));
  assert.match(await gitOut(users, ["branch", "--list", "users-own-work"]), /users-own-work/);
});

test("a fork this server created is kept while another crafted tool's branch is on it", async () => {
  const gh = await github("shared-fork");
  const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url };
  const first = setup("hexfirst", HEXYL, env);
  const a = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(first.ctx, first.craft);
  assert.equal(a.source!.fork_created, true);
  assert.equal((await pushBranch(first.ctx, { ...first.craft, ...a } as Craft)).pushed, true);
  const second = setup("hexsecond", HEXYL, env);
  const b = await makeAcquireCrate({ client: quick(cratesio.url), forkPollMs: 50 })(second.ctx, second.craft);
  assert.equal((await pushBranch(second.ctx, { ...second.craft, ...b } as Craft)).pushed, true);
  const forkDir = path.join(reposRoot, "shared-fork", "hexyl.git");
  assert.deepEqual(await deleteFork(first.ctx.config, a.source, "hexfirst"), {
    deleted: false,
    message: "kept the fork https://github.com/shared-fork/hexyl: other crafted tools still have their branches on it (flakebot/hexsecond)",
  });
  assert.ok(existsSync(forkDir));
  await gitOut(forkDir, ["branch", "-D", "flakebot/hexsecond"]);
  assert.deepEqual(await deleteFork(first.ctx.config, a.source, "hexfirst"), { deleted: true, message: "deleted the fork https://github.com/shared-fork/hexyl" });
  assert.ok(!existsSync(forkDir));
});

test("a GitHub source URL with a token is forked as a crate's repository is", async () => {
  const gh = await github("source-forker");
  const { ctx, craft } = stageSetup(
    { FLAKEBOT_HOME: path.join(work, "flakebot-home"), FLAKEBOT_CRATES_IO_URL: cratesio.url, GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url },
    "hexsource",
    { instructions: "show a hex dump", source: "https://github.com/sharkdp/hexyl", rev: "v0.8.0" },
  );
  const result = await acquireSource(ctx, craft);
  assert.equal(result.source!.url, "https://github.com/sharkdp/hexyl");
  assert.equal(result.source!.fork, "https://github.com/source-forker/hexyl");
  assert.equal(result.source!.fork_created, true);
  assert.equal(result.source!.commit, hexyl.tagCommit);
  assert.equal((await pushBranch(ctx, { ...craft, ...result } as Craft)).pushed, true);
  assert.equal(await gitOut(path.join(reposRoot, "source-forker", "hexyl.git"), ["rev-parse", "refs/heads/flakebot/hexsource"]), hexyl.tagCommit);
});

test("the push credential reaches git only through the askpass helper's environment", async () => {
  const dir = await tempDir("flakebot-askpass-test-");
  const askpass = await writeAskpass(dir);
  const source = await fs.readFile(askpass, "utf8");
  assert.ok(!source.includes(TOKEN));
  const ask = (prompt: string, env: Record<string, string>) => runChecked([askpass, prompt], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });
  assert.equal((await ask("Username for 'https://github.com': ", { FLAKEBOT_PUSH_CREDENTIAL: TOKEN })).stdout, "x-access-token\n");
  assert.equal((await ask("Password for 'https://x-access-token@github.com': ", { FLAKEBOT_PUSH_CREDENTIAL: TOKEN })).stdout, `${TOKEN}\n`);
  assert.equal((await ask("Password for 'https://github.com': ", {})).stdout, "\n");
  await fs.rm(dir, { recursive: true, force: true });
});

test("a push over HTTPS-style auth: git gets the token from the askpass helper, and a wrong token is a clear error without it", async () => {
  const root = await tempDir("flakebot-git-http-");
  const env = process.env as Record<string, string>;
  await runChecked(["git", "clone", "--bare", "--quiet", path.join(reposRoot, "sharkdp", "hexyl"), path.join(root, "me", "hexyl.git")], { cwd: root, env });
  const server = await startGitHttp(root, TOKEN);
  closers.push(() => server.close());
  const ws = path.join(root, "ws");
  await runChecked(["git", "clone", "--quiet", path.join(reposRoot, "sharkdp", "hexyl"), ws], { cwd: root, env });
  await fs.writeFile(path.join(ws, "NOTE.md"), "pushed over http\n");
  await gitOut(ws, ["add", "NOTE.md"]);
  await gitOut(ws, ["commit", "-q", "-m", "note"]);
  const head = await gitOut(ws, ["rev-parse", "HEAD"]);
  const url = `${server.url}/me/hexyl.git`;

  await pushWithToken({ cwd: ws, url, refspec: "HEAD:refs/heads/flakebot/http", token: TOKEN, force: true });
  assert.equal(await gitOut(path.join(root, "me", "hexyl.git"), ["rev-parse", "refs/heads/flakebot/http"]), head);
  assert.ok(server.refused >= 1, "git first tried without credentials, as against GitHub");
  assert.ok(server.users.length > 0 && server.users.every((u) => u === "x-access-token"));
  // no credential helper kept the token: nothing was written to the git config or HOME
  assert.ok(!existsSync(path.join(process.env.HOME!, ".git-credentials")));

  const wrong = "ghp_wrong_token_9876543210";
  await assert.rejects(pushWithToken({ cwd: ws, url, refspec: "HEAD:refs/heads/flakebot/other", token: wrong }), (err: Error) => {
    assert.match(err.message, new RegExp(`git push to ${url.replace(/[.]/g, "\\.")} failed: .*Authentication failed`, "s"));
    assert.ok(!err.message.includes(wrong));
    return true;
  });
  await fs.rm(root, { recursive: true, force: true });
});
