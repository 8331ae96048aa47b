// `flakebot doctor` against the real toolchain on this machine, with PATHs that lack tools,
// and with crates.io and GitHub stand-ins on 127.0.0.1 (never the internet).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { doctor, findOnPath, formatDoctor, parseNixVersion, versionAtLeast, type DoctorReport } from "../src/cli/doctor.js";
import { tempDir } from "./helpers/offline.js";

interface Seen {
  url: string;
  userAgent?: string;
  authorization?: string;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];
let dir: string;
const fullEnv = () => ({ ...(process.env as Record<string, string>) });

before(async () => {
  dir = await tempDir("flakebot-doctor-");
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", userAgent: req.headers["user-agent"], authorization: req.headers.authorization });
    const url = new URL(req.url ?? "/", "http://x");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/api/v1/crates") {
      // The shape of crates.io's real answer, trimmed to one crate.
      return json(200, {
        crates: [{ id: "x", name: "x", max_version: "0.1.0", downloads: 10, description: "x", repository: null }],
        meta: { total: 1, next_page: null, prev_page: null },
      });
    }
    if (url.pathname === "/broken/api/v1/crates") return json(503, { errors: [{ detail: "maintenance" }] });
    if (url.pathname === "/slow/api/v1/crates") return; // never answers
    if (url.pathname === "/github/") {
      if (req.headers.authorization === "Bearer bad-token-0123456789") return json(401, { message: "Bad credentials" });
      return json(200, { current_user_url: `${base}/github/user` });
    }
    json(404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fs.rm(dir, { recursive: true, force: true });
});

function config(extra: Record<string, string> = {}) {
  return loadConfig({
    FLAKEBOT_HOME: path.join(dir, "home"),
    FLAKEBOT_CRATES_IO_URL: base,
    GITHUB_API_URL: `${base}/github`,
    ...extra,
  });
}

/** A PATH directory holding symlinks to only the named programs of this machine. */
async function pathWith(names: string[]): Promise<string> {
  const bin = await fs.mkdtemp(path.join(dir, "bin-"));
  for (const name of names) {
    const real = await findOnPath(name, fullEnv());
    assert.ok(real, `${name} is installed on this machine`);
    await fs.symlink(real, path.join(bin, name));
  }
  return bin;
}

const check = (r: DoctorReport, name: string) => {
  const c = r.checks.find((x) => x.name === name);
  assert.ok(c, `a ${name} check`);
  return c;
};

test("without nix and bwrap on PATH, doctor says what to install and that tools run unsandboxed", async () => {
  const bin = await pathWith(["git", "cargo", "rustc"]);
  const env = { PATH: bin, HOME: process.env.HOME ?? dir, RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(process.env.HOME ?? "/root", ".rustup") };
  const report = await doctor(config(), { env, networkTimeoutMs: 3000 });

  for (const name of ["cargo", "rustc", "git"]) {
    assert.equal(check(report, name).status, "ok", JSON.stringify(check(report, name)));
  }
  assert.match(check(report, "cargo").detail, /^cargo \d+\.\d+/);
  const nix = check(report, "nix");
  assert.equal(nix.status, "missing");
  assert.equal(nix.fix, "apt-get install -y nix-bin");
  assert.match(nix.detail, /fall back to cargo/);
  const bwrap = check(report, "bwrap");
  assert.equal(bwrap.status, "warn");
  assert.equal(bwrap.fix, "apt-get install -y bubblewrap");
  assert.match(bwrap.detail, /unsandboxed/);
  assert.ok(!report.checks.some((c) => c.name === "nix flakes"), "no flakes check without nix");
  // Nothing required is missing: with FLAKEBOT_BACKEND=auto, cargo builds instead of nix.
  assert.equal(report.ok, true);

  const text = formatDoctor(report);
  assert.match(text, /^missing\s+nix\s+nix is not on PATH/m);
  assert.match(text, /fix: apt-get install -y nix-bin$/m);
  assert.match(text, /fix: apt-get install -y bubblewrap$/m);
  assert.match(text, /Flakebot can craft tools; \d+ checks above need attention\./);
});

test("with nothing on PATH, the rust toolchain and git are missing and crafting cannot work", async () => {
  const empty = await fs.mkdtemp(path.join(dir, "empty-"));
  const report = await doctor(config({ FLAKEBOT_BACKEND: "nix", FLAKEBOT_SANDBOX: "bwrap" }), { env: { PATH: empty }, networkTimeoutMs: 3000 });
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.checks.filter((c) => c.status === "missing").map((c) => [c.name, c.fix]),
    [
      ["cargo", "curl https://sh.rustup.rs -sSf | sh"],
      ["rustc", "curl https://sh.rustup.rs -sSf | sh"],
      ["git", "apt-get install -y git"],
      ["nix", "apt-get install -y nix-bin"],
      ["bwrap", "apt-get install -y bubblewrap"],
    ],
  );
  // Asked for explicitly, nix and bwrap are required.
  assert.ok(check(report, "nix").required && check(report, "bwrap").required);
  assert.match(formatDoctor(report), /Flakebot cannot craft tools until cargo, rustc, git, nix, bwrap are fixed/);
});

test("the real nix and bwrap of this machine: version against 2.18, flakes, a real sandbox", async () => {
  const withoutFlakes = { ...fullEnv(), NIX_CONFIG: "experimental-features = nix-command" };
  const report = await doctor(config(), { env: withoutFlakes, networkTimeoutMs: 3000 });
  const nix = check(report, "nix");
  const version = parseNixVersion(nix.detail)!;
  assert.ok(version, nix.detail);
  assert.equal(nix.status, versionAtLeast(version, "2.18") ? "ok" : "warn");
  if (nix.status === "warn") assert.match(nix.detail, /older than 2\.18/);
  const flakes = check(report, "nix flakes");
  assert.equal(flakes.status, "warn");
  assert.match(flakes.fix!, /experimental-features = nix-command flakes/);
  // bwrap really created a sandbox (--unshare-net, read-only root) and ran `true` in it.
  assert.equal(check(report, "bwrap").status, "ok", check(report, "bwrap").detail);

  const withFlakes = { ...fullEnv(), NIX_CONFIG: "experimental-features = nix-command flakes" };
  const again = await doctor(config(), { env: withFlakes, networkTimeoutMs: 3000 });
  assert.equal(check(again, "nix flakes").status, "ok");
});

test("the Nix sandbox: relied on when on, bwrap around nix builds when off, refused without bwrap unless FLAKEBOT_SANDBOX=off", async () => {
  const nixConfig = (sandbox: boolean) => `experimental-features = nix-command flakes\nsandbox = ${sandbox}`;
  const on = await doctor(config(), { env: { ...fullEnv(), NIX_CONFIG: nixConfig(true) }, networkTimeoutMs: 3000 });
  assert.equal(check(on, "nix sandbox").status, "ok");
  assert.match(check(on, "nix sandbox").detail, /^Nix's sandbox is on \(nix show-config\): nix builds of crafted tools rely on it/);

  const off = { ...fullEnv(), NIX_CONFIG: nixConfig(false) };
  const bwrapped = await doctor(config(), { env: off, networkTimeoutMs: 3000 });
  assert.equal(check(bwrapped, "nix sandbox").status, "ok");
  assert.match(check(bwrapped, "nix sandbox").detail, /sandbox = false\): each nix build of a crafted tool runs under bwrap/);

  const unconfined = await doctor(config({ FLAKEBOT_SANDBOX: "off" }), { env: off, networkTimeoutMs: 3000 });
  assert.equal(check(unconfined, "nix sandbox").status, "warn");
  assert.match(check(unconfined, "nix sandbox").detail, /FLAKEBOT_SANDBOX=off: nix builds run the crate's build scripts and tests unconfined/);

  // Nix but no bwrap on PATH, the sandbox off: what the Nix backend refuses.
  const noBwrap = { PATH: await pathWith(["nix"]), HOME: process.env.HOME ?? dir, NIX_CONFIG: nixConfig(false) };
  const refused = await doctor(config({ FLAKEBOT_BACKEND: "nix" }), { env: noBwrap, networkTimeoutMs: 3000 });
  const nixSandbox = check(refused, "nix sandbox");
  assert.equal(nixSandbox.status, "missing");
  assert.ok(nixSandbox.required);
  assert.match(nixSandbox.detail, /the Nix sandbox is off \(nix show-config: sandbox = false\) and bwrap cannot be used.*Nix builds are refused: FLAKEBOT_BACKEND=nix cannot craft/);
  assert.match(nixSandbox.fix ?? "", /sandbox = true.*bubblewrap.*FLAKEBOT_BACKEND=cargo/);
  assert.equal(refused.ok, false);
  const auto = await doctor(config(), { env: noBwrap, networkTimeoutMs: 3000 });
  assert.equal(check(auto, "nix sandbox").status, "warn");
  assert.match(check(auto, "nix sandbox").detail, /Nix builds are refused: crafts fall back to cargo/);
});

test("bwrap that cannot run its sandbox is a warning with bwrap's own reason", async () => {
  // Only bwrap on PATH: inside the sandbox `true` cannot be found, so bwrap fails for real.
  const bin = await pathWith(["bwrap"]);
  const report = await doctor(config(), { env: { PATH: bin }, networkTimeoutMs: 3000 });
  const bwrap = check(report, "bwrap");
  assert.equal(bwrap.status, "warn");
  // The runtime's own trial sandbox (as root it runs through setpriv, which exits 127).
  assert.match(bwrap.detail, /cannot create a sandbox \(exited with code \d+: .*true/);
  assert.match(bwrap.fix ?? "", /^bwrap --ro-bind \/ \/ /);
});

test("crates.io and GitHub stand-ins: answers, errors, silence, refused connections", async () => {
  seen.length = 0;
  const env = { PATH: await pathWith(["git"]) };
  const ok = await doctor(config(), { env, networkTimeoutMs: 3000 });
  assert.equal(check(ok, "crates.io").status, "ok");
  assert.match(check(ok, "github").detail, /answers \(HTTP 200, \d+ ms\); no GITHUB_TOKEN/);
  const query = seen.find((s) => s.url.startsWith("/api/v1/crates"));
  assert.equal(query?.url, "/api/v1/crates?q=x&per_page=1");
  assert.match(query?.userAgent ?? "", /^flakebot\//, "crates.io asks for a User-Agent");

  const broken = await doctor(config({ FLAKEBOT_CRATES_IO_URL: `${base}/broken` }), { env, networkTimeoutMs: 3000 });
  assert.equal(check(broken, "crates.io").status, "warn");
  assert.match(check(broken, "crates.io").detail, /HTTP 503/);

  const started = Date.now();
  const slow = await doctor(config({ FLAKEBOT_CRATES_IO_URL: `${base}/slow` }), { env, networkTimeoutMs: 300 });
  assert.match(check(slow, "crates.io").detail, /did not answer \(no answer within 300 ms\)/);
  assert.ok(Date.now() - started < 10_000);

  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await doctor(config({ GITHUB_API_URL: `http://127.0.0.1:${port}` }), { env, networkTimeoutMs: 3000 });
  assert.equal(check(refused, "github").status, "warn");
  assert.match(check(refused, "github").detail, /did not answer \(ECONNREFUSED\)/);
});

test("the LLM settings: which provider auto resolves to, and keys never shown", async () => {
  const env = { PATH: await pathWith(["git"]) };
  const none = await doctor(config(), { env, networkTimeoutMs: 3000 });
  assert.equal(check(none, "llm").status, "warn");
  assert.match(check(none, "llm").detail, /^FLAKEBOT_LLM=auto resolves to none/);

  const secret = "gsk_doctor_test_secret_0123456789";
  const groq = await doctor(config({ GROQ_API_KEY: secret, GITHUB_TOKEN: "bad-token-0123456789" }), { env, networkTimeoutMs: 3000 });
  assert.equal(check(groq, "llm").status, "ok");
  assert.match(check(groq, "llm").detail, /^FLAKEBOT_LLM=auto resolves to groq: GROQ_API_KEY is set, model /);
  assert.equal(check(groq, "github").status, "warn");
  assert.match(check(groq, "github").detail, /rejected GITHUB_TOKEN \(HTTP 401\)/);
  const text = formatDoctor(groq) + JSON.stringify(groq);
  assert.ok(!text.includes(secret) && !text.includes("bad-token-0123456789"), "no key in the report");

  const openai = await doctor(config({ FLAKEBOT_LLM: "openai", OPENAI_BASE_URL: "http://127.0.0.1:11434/v1" }), { env, networkTimeoutMs: 3000 });
  assert.equal(check(openai, "llm").status, "missing");
  assert.equal(check(openai, "llm").fix, "export FLAKEBOT_MODEL=<a model your server has loaded>");
});

test("Nix versions compare as numbers", () => {
  assert.deepEqual(parseNixVersion("nix (Nix) 2.8.0"), [2, 8, 0]);
  assert.deepEqual(parseNixVersion("nix (Nix) 2.24.10pre"), [2, 24, 10]);
  assert.equal(versionAtLeast([2, 8, 0], "2.18"), false);
  assert.equal(versionAtLeast([2, 18, 0], "2.18"), true);
  assert.equal(versionAtLeast([2, 24, 1], "2.18"), true);
  assert.equal(versionAtLeast([3, 0, 0], "2.18"), true);
});
