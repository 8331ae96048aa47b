// The later stages end to end through the MCP server: discovery on a crates.io stand-in with
// the upstream cloned at its published tag, the Nix backend with the stand-in nixpkgs, and the
// LLM changing a program through the real groq-sdk and through the client's own model
// (MCP sampling). Only the network's far ends are local stand-ins.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { connect, textOf, type Connected } from "./helpers/client.js";
import { HEXYL_TARGET_DIR, fixturesDir, serverEntry, testEnv } from "./helpers/offline.js";
import { OFFLINE_NIX_CONFIG, prepareNixpkgsStub } from "./helpers/nix-stub.js";
import { startCratesIo, type CratesIoStandIn } from "./fixtures/far-ends/cratesio.js";
import { hexCatalogue, hexylUpstream } from "./fixtures/far-ends/upstreams.js";
import { startLlmStandIn, type ChatRequestBody, type LlmStandIn } from "./fixtures/far-ends/llm.js";
import { nixAvailable } from "../src/backends/nix/nix.js";

const hello = path.join(fixturesDir, "crates", "hello");

describe("discovery: instructions alone find the crate on crates.io", () => {
  let crates: CratesIoStandIn;
  let c: Connected;
  let tagCommit: string;

  before(async () => {
    const t = await testEnv();
    const reposRoot = path.join(t.dir, "repos");
    ({ tagCommit } = await hexylUpstream(reposRoot));
    // github.com URLs from the crates.io stand-in resolve to the local upstreams, by git's own config.
    await fs.appendFile(t.env.GIT_CONFIG_GLOBAL, `[url "file://${reposRoot}/"]\n\tinsteadOf = https://github.com/\n`);
    crates = await startCratesIo(hexCatalogue());
    // CARGO_TARGET_DIR reaches cargo as any user's would: hexyl's dependencies compile once per machine.
    c = await connect({ ...t.env, FLAKEBOT_CRATES_IO_URL: crates.url, FLAKEBOT_SANDBOX: "auto", CARGO_TARGET_DIR: HEXYL_TARGET_DIR });
  });

  after(async () => {
    await c?.close();
    await crates?.close();
  });

  test("a hex dump tool from hexyl, cloned at v0.8.0, among decoys", { timeout: 600_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "show a hex dump of a file", name: "hexdump", wait_seconds: 600 });
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.crate.name, "hexyl");
    assert.equal(r.structured.crate.version, "0.8.0");
    assert.equal(r.structured.source.rev, "v0.8.0");
    assert.equal(r.structured.source.commit, tagCommit, "the published tag, not the newer main");
    const names = r.structured.candidates.map((x: { name: string }) => x.name);
    assert.equal(names[0], "hexyl");
    assert.ok(r.structured.candidates[0].reason.length > 10);
    const tools = await c.client.listTools();
    const tool = tools.tools.find((x) => x.name === "hexdump")!;
    assert.ok(tool.inputSchema.properties?.color, "typed parameters from hexyl's --help");
    // The named parameter becomes `--color never` on the command line.
    const dump = await c.call("hexdump", { color: "never", stdin: "hello" });
    assert.equal(dump.structured.exit_code, 0, dump.structured.stderr);
    assert.match(dump.structured.stdout, /│00000000│ 68 65 6c 6c 6f /);
  });
});

describe("the Nix backend through the server", { skip: (await nixAvailable()).available ? false : "nix is not installed" }, () => {
  let c: Connected;
  let home: string;

  before(async () => {
    const t = await testEnv();
    home = t.home;
    const nixpkgs = await prepareNixpkgsStub(t.dir);
    // The stand-in's Nix sandbox is off: with FLAKEBOT_SANDBOX=auto the nix build runs under bwrap.
    c = await connect({ ...t.env, FLAKEBOT_BACKEND: "nix", FLAKEBOT_NIXPKGS: nixpkgs, NIX_CONFIG: OFFLINE_NIX_CONFIG, FLAKEBOT_SANDBOX: "auto" });
  });

  after(async () => {
    await c?.close();
  });

  test("crafts a flake, runs the tool from its store path, and dispose removes root and store path", { timeout: 600_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "upper case", source: hello, name: "nixupper", wait_seconds: 600 });
    assert.equal(r.structured.status, "ready", textOf(r));
    const build = r.structured.build;
    assert.equal(build.backend, "nix");
    assert.equal(build.reproducible, true);
    assert.match(build.store_path, /^\/nix\/store\/[0-9a-z]{32}-/);
    assert.ok(build.binary.startsWith(build.store_path));
    assert.match(build.flake_ref, /^git\+file:/);
    // One compile with one toolchain: the tests ran in the nix build's check phase, and the
    // host's cargo compiled nothing (every Compiling line is the nix build's own).
    assert.equal(r.structured.tests.passed, 2);
    const buildLog = await fs.readFile(path.join(home, "tools", "nixupper", "build.log"), "utf8");
    const compiles = buildLog.split("\n").filter((l) => /Compiling hello-upper/.test(l));
    // (lines starting "-- nix build:" are the progress reports of that build)
    assert.ok(compiles.length > 0 && compiles.every((l) => /hello-upper> |^-- nix build: /.test(l)), compiles.join("\n"));
    assert.match(buildLog, /hello-upper> test result: ok\. 2 passed/);
    const out = await c.call("nixupper", { args: ["from", "nix"] });
    assert.equal(out.structured.stdout, "FROM NIX\n");
    const flake = await c.client.readResource({ uri: "flakebot://tools/nixupper/flake.nix" });
    assert.match((flake.contents[0] as { text: string }).text, /builtins\.fromJSON/);
    const gcroot = path.join(home, "tools", "nixupper", "result");
    assert.equal(await fs.readlink(gcroot), build.store_path);
    const d = await c.call("dispose_tool", { name: "nixupper" });
    assert.ok(d.structured.removed.includes(gcroot));
    assert.ok(d.structured.removed.includes(build.store_path));
    assert.equal(existsSync(build.store_path), false);
  });
});

// The scripted LLM answers by which prompt it is sent (plan, edit, usage).
function reverseEdits(): string {
  return JSON.stringify({
    summary: "add --reverse, which prints the upper-cased text reversed, with a test",
    read: [],
    edits: [
      {
        path: "src/main.rs",
        search: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}",
        replace: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}\n\nfn reversed(text: &str) -> String {\n    text.chars().rev().collect()\n}",
      },
      {
        path: "src/main.rs",
        search: '    let no_newline = args.iter().any(|a| a == "-n" || a == "--no-newline");',
        replace: '    let no_newline = args.iter().any(|a| a == "-n" || a == "--no-newline");\n    let reverse = args.iter().any(|a| a == "--reverse");',
      },
      {
        path: "src/main.rs",
        search: '.filter(|a| *a != "-n" && *a != "--no-newline")',
        replace: '.filter(|a| *a != "-n" && *a != "--no-newline" && *a != "--reverse")',
      },
      {
        path: "src/main.rs",
        search: '    let _ = write!(out, "{}", upper(&text));',
        replace: '    let shown = if reverse { reversed(&upper(&text)) } else { upper(&text) };\n    let _ = write!(out, "{}", shown);',
      },
      {
        path: "src/main.rs",
        search: "    #[test]\n    fn keeps_symbols() {",
        replace: '    #[test]\n    fn reverses() {\n        assert_eq!(super::reversed("abc"), "cba");\n    }\n\n    #[test]\n    fn keeps_symbols() {',
      },
    ],
  });
}

const PLAN_REVERSE = JSON.stringify({
  queries: ["uppercase text"],
  behaviour: "Prints its arguments upper-cased; with --reverse, reversed as well.",
  tool_name: "reverser",
  crate_alone_enough: false,
  acceptance: [
    { name: "reverses", args: ["--reverse", "abc"], expect_stdout: ["^CBA$"] },
    { name: "still upper-cases", args: ["abc"], expect_stdout: ["^ABC$"] },
  ],
});

const USAGE = JSON.stringify({ usage: "Prints its arguments in upper case.", example: { args: ["hello"] } });

function scripted(body: ChatRequestBody | { system: string }): string {
  const system = "system" in body && typeof body.system === "string" ? body.system : (body as ChatRequestBody).messages.find((m) => m.role === "system")?.content ?? "";
  if (/You plan a command-line tool/.test(system)) return PLAN_REVERSE;
  if (/You change an existing Rust/.test(system)) return reverseEdits();
  if (/usage notes/.test(system)) return USAGE;
  throw new Error(`unexpected prompt: ${system.slice(0, 80)}`);
}

describe("the LLM changes the program, proved by cargo build and test", () => {
  let llm: LlmStandIn;
  let c: Connected;

  before(async () => {
    llm = await startLlmStandIn();
    for (let i = 0; i < 6; i++) llm.push((body) => scripted(body));
    const t = await testEnv();
    c = await connect({ ...t.env, FLAKEBOT_LLM: "auto", GROQ_API_KEY: "gsk_test_key_0123456789", GROQ_BASE_URL: llm.url });
  });

  after(async () => {
    await c?.close();
    await llm?.close();
  });

  test("through groq-sdk: plan, one accepted edit with a new test, acceptance tests pass", { timeout: 300_000 }, async () => {
    const r = await c.call("craft_tool", { instructions: "upper-case text, and reverse it with --reverse", source: hello, name: "reverser", wait_seconds: 300 });
    assert.equal(r.structured.status, "ready", textOf(r));
    assert.equal(r.structured.tests.passed, 3, "the two old tests and the new one");
    assert.equal(r.structured.tests.acceptance_passed, 2);
    assert.equal(r.structured.tests.acceptance_failed, 0);
    const out = await c.call("reverser", { args: ["--reverse", "flake"] });
    assert.equal(out.structured.stdout, "EKALF\n");
    const diff = await c.client.readResource({ uri: "flakebot://tools/reverser/diff" });
    assert.match((diff.contents[0] as { text: string }).text, /\+.*fn reverses\(\)/, "the change against upstream, with its new test");
    assert.ok(llm.requests.every((q) => q.path === "/openai/v1/chat/completions" && q.authorization === "Bearer gsk_test_key_0123456789"));
    assert.ok(llm.requests.every((q) => q.body.temperature === 0));
  });
});

describe("MCP sampling: the client's own model plans when there is no key", () => {
  test("the plan's acceptance tests come from the client's model", { timeout: 300_000 }, async () => {
    const t = await testEnv({ FLAKEBOT_LLM: "auto" });
    const transport = new StdioClientTransport({ command: process.execPath, args: [serverEntry], env: t.env, stderr: "pipe" });
    const client = new Client({ name: "sampler", version: "0.0.0" }, { capabilities: { sampling: {} } });
    const asked: string[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const system = req.params.systemPrompt ?? "";
      asked.push(system.slice(0, 40));
      const text = /You plan a command-line tool/.test(system)
        ? JSON.stringify({ queries: ["upper"], behaviour: "Upper-cases text.", crate_alone_enough: true, acceptance: [{ name: "upper", args: ["abc"], expect_stdout: ["^ABC$"] }] })
        : scripted({ system });
      return { role: "assistant", content: { type: "text", text }, model: "client-model" };
    });
    await client.connect(transport);
    try {
      const r = (await client.callTool({ name: "craft_tool", arguments: { instructions: "upper-case text", source: hello, name: "sampled", wait_seconds: 300 } }, undefined, { timeout: 300_000 })) as CallToolResult;
      const s = r.structuredContent as Record<string, any>;
      assert.equal(s.status, "ready", textOf(r));
      assert.equal(s.tests.acceptance_passed, 1);
      assert.ok(asked.some((a) => a.startsWith("You plan")), `sampling requests: ${asked.join(" | ")}`);
    } finally {
      await client.close();
    }
  });
});
