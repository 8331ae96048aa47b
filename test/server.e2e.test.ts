// The foundation end to end: a real MCP client spawns the built server over stdio, crafts
// real Rust fixtures with real cargo (offline, from Debian's crate sources), calls them,
// restarts the server, and disposes of them.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { fixtureRepo, fixturesDir, testEnv, type TestEnv } from "./helpers/offline.js";
import { processesNaming, processesUnder, waitFor } from "./helpers/procs.js";

const hello = path.join(fixturesDir, "crates", "hello");
const SECRET = "sk-test-secret-value-1234567890";

let t: TestEnv;
let c: Connected;

before(async () => {
  // The sandbox is on where bwrap exists (as CI installs it): the configuration users run.
  t = await testEnv({ GROQ_API_KEY: SECRET, GITHUB_TOKEN: "ghp_test_token_value_123456", FLAKEBOT_SANDBOX: "auto" });
  c = await connect(t.env);
});

after(async () => {
  await c?.close();
});

describe("craft from a local directory", () => {
  test("crafts, registers (with list_changed) and runs the hello fixture", { timeout: 180_000 }, async () => {
    const before = c.listChanges();
    const r = await c.call("craft_tool", { instructions: "print text in upper case", source: hello, name: "upper", wait_seconds: 120 });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(r.structured.status, "ready");
    assert.equal(r.structured.tool, "upper");
    assert.equal(r.structured.build.backend, "cargo");
    assert.equal(r.structured.build.reproducible, false);
    assert.equal(r.structured.tests.passed, 2);
    assert.match(r.structured.usage, /invoke_tool/);
    assert.match(r.structured.usage, /"name":"upper"/);
    assert.match(r.structured.usage, /--no-newline/, "the example comes from the real --help");
    await waitFor("tools/list_changed", async () => c.listChanges() > before);
    const tools = await c.client.listTools();
    const upper = tools.tools.find((x) => x.name === "upper");
    assert.ok(upper, "the crafted tool is listed");
    assert.ok(upper.outputSchema, "crafted tools declare their output schema");
    assert.match(upper.description ?? "", /invoke_tool/);
  });

  test("the crafted tool passes arguments literally, with no shell", async () => {
    const r = await c.call("upper", { args: ["a;b", "$(touch /tmp/pwned)", "`id`", "|x", "*"] });
    assert.equal(r.structured.exit_code, 0);
    assert.equal(r.structured.stdout, "A;B $(TOUCH /TMP/PWNED) `ID` |X *\n");
    await assert.rejects(fs.access("/tmp/pwned"));
  });

  test("invoke_tool runs it too, with stdin", async () => {
    const r = await c.call("invoke_tool", { name: "upper", stdin: "from stdin\n" });
    assert.equal(r.structured.stdout, "FROM STDIN\n");
    assert.equal(r.structured.truncated, false);
    assert.equal(r.structured.timed_out, false);
  });

  test("describe_tool shows status, schema, hash and log tail", async () => {
    const r = await c.call("describe_tool", { name: "upper" });
    assert.equal(r.structured.status, "ready");
    assert.match(r.structured.definition_sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(r.structured.input_schema.properties).slice(0, 3), ["args", "stdin", "timeout_ms"]);
    assert.ok(r.structured.log_tail.some((l: string) => /ready/.test(l)));
    assert.ok(r.structured.source.commit.match(/^[0-9a-f]{40}$/));
  });

  test("its provenance is readable as MCP resources, and a prompt guides crafting", async () => {
    const { resources } = await c.client.listResources();
    const uris = resources.map((r) => r.uri);
    for (const part of ["manifest", "build-log", "diff"]) assert.ok(uris.includes(`flakebot://tools/upper/${part}`), `${part} listed`);
    assert.ok(!uris.includes("flakebot://tools/upper/flake.nix"), "no flake.nix for a cargo build");
    const manifest = await c.client.readResource({ uri: "flakebot://tools/upper/manifest" });
    const m = JSON.parse((manifest.contents[0] as { text: string }).text);
    assert.equal(m.name, "upper");
    assert.equal(m.status, "ready");
    const buildLog = await c.client.readResource({ uri: "flakebot://tools/upper/build-log" });
    assert.match((buildLog.contents[0] as { text: string }).text, /cargo build --release/);
    const diff = await c.client.readResource({ uri: "flakebot://tools/upper/diff" });
    assert.equal((diff.contents[0] as { text: string }).text, "", "unchanged from upstream");
    const { prompts } = await c.client.listPrompts();
    assert.ok(prompts.some((p) => p.name === "craft-a-tool"));
    const prompt = await c.client.getPrompt({ name: "craft-a-tool", arguments: { need: "count the words in a file" } });
    const text = (prompt.messages[0].content as { text: string }).text;
    assert.match(text, /count the words in a file/);
    assert.match(text, /describe_tool/);
    assert.match(text, /invoke_tool/);
  });

  test("a second craft of the identical tree reuses the build", { timeout: 60_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "upper again", source: hello, name: "upper_again", wait_seconds: 60 });
    assert.equal(r.structured.status, "ready");
    assert.equal(r.structured.build.cached, true);
    assert.match(r.structured.message, /reused/);
    const d = await c.call("dispose_tool", { name: "upper_again" });
    assert.equal(d.isError, undefined);
    const still = await c.call("upper", { args: ["still works"] });
    assert.equal(still.structured.stdout, "STILL WORKS\n", "disposing a tool sharing the build keeps the other working");
  });
});

describe("crafting from git", () => {
  test("clones a file:// URL at a tag", { timeout: 120_000 }, async () => {
    const repo = await fixtureRepo("hello", path.join(t.dir, "upstream-hello"), "v0.1.0", t.env);
    const r = await c.call("craft_tool", { instructions: "upper", source: `file://${repo}`, rev: "v0.1.0", name: "upper_git", wait_seconds: 120 });
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.source.rev, "v0.1.0");
    assert.equal(r.structured.source.url, `file://${repo}`);
    assert.equal(r.structured.build.cached, true, "same tree as the local copy: the build is reused");
    await c.call("dispose_tool", { name: "upper_git" });
  });

  test("a git URL that cannot be cloned is a clear error", { timeout: 60_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "x", source: `file://${t.dir}/no-such-repo`, name: "nogit", wait_seconds: 60 });
    assert.equal(r.isError, true);
    assert.equal(r.structured.status, "failed");
    assert.equal(r.structured.stage, "acquire");
    assert.match(r.structured.error, /could not clone/);
  });
});

describe("bad input gets a clear error", () => {
  const bad = async (args: Record<string, unknown>, pattern: RegExp) => {
    const r = await c.call("craft_tool", { wait_seconds: 60, ...args });
    assert.equal(r.isError, true, `expected an error for ${JSON.stringify(args).slice(0, 200)}`);
    assert.match(textOf(r), pattern);
    return r;
  };

  test("empty and 1 MB instructions", async () => {
    await bad({ instructions: "", source: hello }, /instructions/i);
    await bad({ instructions: "x".repeat(1024 * 1024), source: hello }, /instructions/i);
  });

  test("names that are not allowed", async () => {
    await bad({ instructions: "x", source: hello, name: "../x" }, /name/);
    await bad({ instructions: "x", source: hello, name: "craft_tool" }, /Flakebot's own tools/);
    await bad({ instructions: "x", source: hello, name: "upper" }, /already exists/);
  });

  test("a source that does not exist or is not a cargo project", async () => {
    await bad({ instructions: "x", source: path.join(t.dir, "nothing-here") }, /does not exist/);
    await bad({ instructions: "x", source: fixturesDir }, /not a cargo project/);
  });

  test("a crate that does not compile: cargo's errors come back, the workspace is cleaned", { timeout: 120_000 }, async () => {
    const r = await bad({ instructions: "x", source: path.join(fixturesDir, "crates", "broken"), name: "broken" }, /cargo build failed/);
    assert.equal(r.structured.stage, "build");
    assert.match(r.structured.error, /mismatched types/);
    await assert.rejects(fs.access(path.join(t.home, "tools", "broken", "workspace")));
    await c.call("dispose_tool", { name: "broken" });
  });

  test("several binaries and no bin: the error lists them", { timeout: 60_000 }, async () => {
    const r = await bad({ instructions: "x", source: path.join(fixturesDir, "crates", "multibin"), name: "multi" }, /several binaries/);
    assert.match(r.structured.error, /multibin\/alpha/);
    assert.match(r.structured.error, /multibin\/beta/);
    const ok = await c.call("craft_tool", { instructions: "x", source: path.join(fixturesDir, "crates", "multibin"), name: "multi", bin: "beta", wait_seconds: 60 });
    assert.equal(ok.structured.status, "ready", textOf(ok));
    const run = await c.call("multi", {});
    assert.equal(run.structured.stdout, "beta\n");
    await c.call("dispose_tool", { name: "multi" });
  });

  test("two crafts of the same name at once: one wins, the other is told", { timeout: 60_000 }, async () => {
    const [a, b] = await Promise.all([
      c.call("craft_tool", { instructions: "x", source: hello, name: "twin", wait_seconds: 60 }),
      c.call("craft_tool", { instructions: "x", source: hello, name: "twin", wait_seconds: 60 }),
    ]);
    const errors = [a, b].filter((r) => r.isError);
    assert.equal(errors.length, 1);
    assert.match(textOf(errors[0]), /already exists or is being crafted/);
    await c.call("dispose_tool", { name: "twin" });
  });

  test("invoking or disposing an unknown tool", async () => {
    const i = await c.call("invoke_tool", { name: "nope" });
    assert.equal(i.isError, true);
    assert.match(textOf(i), /no crafted tool/);
    const d = await c.call("dispose_tool", { name: "nope" });
    assert.equal(d.isError, true);
  });
});

describe("running untrusted binaries", () => {
  before(async () => {
    const r = await c.call("craft_tool", { instructions: "attacks", source: path.join(fixturesDir, "crates", "attacker"), name: "attacker", wait_seconds: 120 });
    assert.equal(r.structured.status, "ready", textOf(r));
  });

  test("the server's secrets never reach the binary", async () => {
    const r = await c.call("attacker", { args: ["env"] });
    assert.doesNotMatch(r.structured.stdout, new RegExp(SECRET));
    assert.doesNotMatch(r.structured.stdout, /GROQ_API_KEY|GITHUB_TOKEN|FLAKEBOT_HOME/);
  });

  test("a hanging binary is killed at its timeout, with its children", { timeout: 30_000 }, async () => {
    const r = await c.call("attacker", { args: ["sleep"], timeout_ms: 1500 });
    assert.equal(r.structured.timed_out, true);
    assert.equal(r.structured.exit_code, null);
    assert.ok(r.structured.duration_ms < 10_000);
    const scratch = path.join(t.home, "tools", "attacker", "scratch");
    await waitFor("no process left in the scratch dir", async () => (await processesUnder(scratch)).length === 0, 5000);
  });

  test("a flood is truncated at 1 MiB", { timeout: 60_000 }, async () => {
    const r = await c.call("invoke_tool", { name: "attacker", args: ["flood"], timeout_ms: 30_000 });
    assert.equal(r.structured.truncated, true);
    assert.ok(r.structured.stdout.length <= 1024 * 1024);
  });

  test("a non-zero exit is a normal result", async () => {
    const r = await c.call("attacker", { args: ["no-such-attack"] });
    assert.equal(r.isError, undefined);
    assert.notEqual(r.structured.exit_code, 0);
  });
});

describe("restart and crash", () => {
  test("ready tools come back after a restart without rebuilding", { timeout: 60_000 }, async () => {
    const manifest = path.join(t.home, "tools", "upper", "manifest.json");
    const before = await fs.readFile(manifest, "utf8");
    await c.close();
    c = await connect(t.env);
    const tools = await c.client.listTools();
    assert.ok(tools.tools.some((x) => x.name === "upper"));
    const r = await c.call("upper", { args: ["back"] });
    assert.equal(r.structured.stdout, "BACK\n");
    const afterText = await fs.readFile(manifest, "utf8");
    assert.equal(JSON.parse(afterText).build.duration_ms, JSON.parse(before).build.duration_ms, "not rebuilt");
  });

  test("kill -9 mid-craft: the next start marks it failed and removes its workspace", { timeout: 120_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "count words", source: path.join(fixturesDir, "crates", "clapper"), name: "crashy", wait_seconds: 0 });
    assert.equal(r.structured.status, "building");
    const ws = path.join(t.home, "tools", "crashy", "workspace");
    await waitFor("the build to start", async () => (await processesUnder(ws)).length > 0, 60_000);
    process.kill(c.pid()!, "SIGKILL");
    await c.close();
    c = await connect(t.env);
    const d = await c.call("describe_tool", { name: "crashy" });
    assert.equal(d.structured.status, "failed");
    assert.match(d.structured.message, /interrupted/);
    await assert.rejects(fs.access(ws));
    const tools = await c.client.listTools();
    assert.ok(!tools.tools.some((x) => x.name === "crashy"), "no half-registered tool");
    await c.call("dispose_tool", { name: "crashy" });
    // cargo children of the killed server die with their process group's parent gone or finish; none may hold the name
  });

  test("the client closing stdin mid-build leaves no cargo process", { timeout: 120_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "count words", source: path.join(fixturesDir, "crates", "clapper"), name: "orphan", wait_seconds: 0 });
    assert.equal(r.structured.status, "building");
    const ws = path.join(t.home, "tools", "orphan", "workspace");
    await waitFor("the build to start", async () => (await processesUnder(ws)).length > 0, 60_000);
    const pid = c.pid()!;
    await c.close();
    await waitFor("the server to exit", async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    await waitFor("every cargo process to be gone", async () => (await processesUnder(ws)).length === 0, 5_000);
    c = await connect(t.env);
    await c.call("dispose_tool", { name: "orphan" });
  });
});

describe("progress and polling", () => {
  test("cancelling the waiting request does not cancel the craft", { timeout: 300_000 }, async () => {
    const crate = path.join(t.dir, "hello-cancel");
    await fs.cp(hello, crate, { recursive: true });
    await fs.appendFile(path.join(crate, "src", "main.rs"), "\n// a tree of its own: no cached build\n");
    const waiting = new AbortController();
    const call = c.client.callTool(
      { name: "craft_tool", arguments: { instructions: "upper", source: crate, name: "cancelled_wait", wait_seconds: 300 } },
      undefined,
      { signal: waiting.signal, timeout: 300_000, onprogress: () => waiting.abort() },
    );
    await assert.rejects(call);
    const d = await c.call("describe_tool", { name: "cancelled_wait", wait_seconds: 300 });
    assert.equal(d.structured.status, "ready", JSON.stringify(d.structured).slice(0, 1000));
    assert.equal(d.structured.build.cached, undefined, "it went on building after the request was cancelled");
    await c.call("dispose_tool", { name: "cancelled_wait" });
  });

  test("wait_seconds 0 returns building; describe_tool long-polls to ready with progress", { timeout: 300_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "count words", source: path.join(fixturesDir, "crates", "clapper"), name: "wc", wait_seconds: 0 });
    assert.equal(r.structured.status, "building");
    assert.match(textOf(r), /describe_tool/);
    const progress: string[] = [];
    const d = await c.call("describe_tool", { name: "wc", wait_seconds: 300 }, { onprogress: (p) => progress.push(p.message ?? "") });
    assert.equal(d.structured.status, "ready", JSON.stringify(d.structured).slice(0, 2000));
    assert.ok(progress.some((m) => m.startsWith("build")), `progress seen: ${progress.join(" | ")}`);
    const run = await c.call("wc", { args: ["--lines"], stdin: "one two\nthree\n" });
    assert.equal(run.structured.stdout, "3 2\n");
  });

  test("dispose removes the tool, its workspace and manifest, and says what it removed", async () => {
    const before = c.listChanges();
    const d = await c.call("dispose_tool", { name: "wc" });
    assert.equal(d.structured.disposed, "wc");
    assert.ok(d.structured.removed.some((p: string) => p.endsWith("manifest.json")));
    assert.ok(d.structured.removed.some((p: string) => p.endsWith("workspace")));
    await assert.rejects(fs.access(path.join(t.home, "tools", "wc")));
    await waitFor("tools/list_changed", async () => c.listChanges() > before);
    const tools = await c.client.listTools();
    assert.ok(!tools.tools.some((x) => x.name === "wc"));
  });
});

describe("crash recovery with the sandbox off", () => {
  test("a server killed while cargo waits on the network: the next start ends that cargo, found by its working directory", { timeout: 120_000 }, async () => {
    // A registry that takes connections and never answers: cargo resolving the crate's one
    // dependency waits on it, with no child process of its own.
    const held: net.Socket[] = [];
    const registry = net.createServer((s) => void held.push(s));
    await new Promise<void>((r) => registry.listen(0, "127.0.0.1", r));
    const port = (registry.address() as net.AddressInfo).port;
    const env = await testEnv({ FLAKEBOT_SANDBOX: "off" });
    await fs.writeFile(
      path.join(env.env.CARGO_HOME, "config.toml"),
      `[source.crates-io]\nreplace-with = "stuck"\n[source.stuck]\nregistry = "sparse+http://127.0.0.1:${port}/"\n[http]\ntimeout = 600\n[net]\nretry = 0\n`,
    );
    const crate = path.join(env.dir, "needs-a-dep");
    await fs.mkdir(path.join(crate, "src"), { recursive: true });
    await fs.writeFile(path.join(crate, "Cargo.toml"), '[package]\nname = "needs-a-dep"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nitoa = "1"\n');
    await fs.writeFile(path.join(crate, "src", "main.rs"), "fn main() {}\n");
    const manifestPath = path.join(env.home, "tools", "stuck", "workspace", "Cargo.toml");
    let server: Connected | undefined = await connect(env.env);
    try {
      const r = await server.call("craft_tool", { instructions: "nothing", source: crate, name: "stuck", wait_seconds: 0 });
      assert.equal(r.structured.status, "building");
      await waitFor("cargo to wait on the registry", async () => held.length > 0 && (await processesNaming(manifestPath)).length > 0, 60_000);
      process.kill(server.pid()!, "SIGKILL");
      await server.close();
      const orphans = await processesNaming(manifestPath);
      assert.ok(orphans.length > 0, "the killed server's cargo still runs");
      server = await connect(env.env);
      const d = await server.call("describe_tool", { name: "stuck" });
      assert.equal(d.structured.status, "failed");
      assert.match(d.structured.message, /interrupted/);
      await waitFor("the orphaned cargo to be ended", async () => (await processesNaming(manifestPath)).length === 0, 5_000).catch(async () => {
        assert.fail(`still running: ${JSON.stringify(await processesNaming(manifestPath))}`);
      });
      await server.call("dispose_tool", { name: "stuck" });
    } finally {
      await server?.close();
      for (const s of held) s.destroy();
      registry.close();
      for (const p of await processesNaming(manifestPath)) process.kill(p.pid, "SIGKILL");
      await fs.rm(env.dir, { recursive: true, force: true });
    }
  });
});
