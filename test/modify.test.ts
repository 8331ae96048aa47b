// The modify loop on a real crate (the hello fixture in a fresh git repository), built and
// tested by the real cargo with the offline CARGO_HOME; the LLM is the scripted
// chat-completions stand-in reached through the real groq-sdk (and openai, and sampling).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { loadConfig } from "../src/config.js";
import { type StageContext } from "../src/craft/context.js";
import { CraftError } from "../src/model/errors.js";
import { createModify, modify } from "../src/craft/stages/modify.js";
import type { ModifyReport, Plan } from "../src/model/plan.js";
import type { AcceptanceTest, Craft, CraftRequest } from "../src/model/craft.js";
import { selectProvider, type ClientLlm } from "../src/llm/select.js";
import { toolPaths } from "../src/state/paths.js";
import { runChecked } from "../src/exec/process.js";
import { fixtureRepo, testEnv } from "./helpers/offline.js";
import { HANG, startLlmStandIn, type LlmStandIn } from "./fixtures/far-ends/llm.js";

const KEY = "gsk_modify_secret_0123456789";
let standIn: LlmStandIn;
let env: Record<string, string>;

before(async () => {
  standIn = await startLlmStandIn();
  const t = await testEnv();
  env = t.env;
  // cargo and git run with the server's environment (minus secrets): give them the offline one.
  for (const k of ["CARGO_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "RUSTUP_HOME"]) process.env[k] = env[k];
});
after(async () => {
  await standIn.close();
});

const REVERSE: AcceptanceTest = { name: "reverses with --reverse", args: ["--reverse", "abc"], expect_stdout: ["^CBA$"] };

function planWith(acceptance: AcceptanceTest[], alone = false): Plan {
  return { queries: ["upper"], behaviour: "Upper-cases text; with --reverse also reverses it.", crate_alone_enough: alone, acceptance, source: "llm" };
}

interface Scenario {
  ctx: StageContext;
  craft: Craft;
  workspace: string;
  logs: string[];
  git: (args: string[]) => Promise<string>;
}

let counter = 0;
async function scenario(
  opts: {
    plan?: Plan;
    modify?: CraftRequest["modify"];
    llmEnv?: Record<string, string>;
    client?: ClientLlm;
    noLockfile?: boolean;
    /** Rust source appended to src/main.rs and committed as upstream's. */
    upstreamExtra?: string;
  } = {},
): Promise<Scenario> {
  const t = await testEnv();
  const config = loadConfig({ ...t.env, FLAKEBOT_LLM: "auto", ...(opts.llmEnv ?? { GROQ_API_KEY: KEY, GROQ_BASE_URL: standIn.url }) });
  const name = `tool${++counter}`;
  const paths = toolPaths(config.home, name);
  await fs.mkdir(paths.dir, { recursive: true });
  await fixtureRepo("hello", paths.workspace, undefined, env);
  const logs: string[] = [];
  const request: CraftRequest = { instructions: "Upper-case text; --reverse also reverses it.", modify: opts.modify ?? "auto", kind: "command" };
  const ctx: StageContext = {
    config,
    paths,
    request,
    signal: new AbortController().signal,
    log: (l) => logs.push(l),
    progress: (m) => logs.push(m),
    llm: selectProvider(config, opts.client),
  };
  const now = new Date().toISOString();
  const craft = { schema: 1, name, status: "building", message: "", request, created_at: now, updated_at: now, plan: opts.plan ?? planWith([REVERSE]) } as Craft;
  const git = async (args: string[]) => (await runChecked(["git", ...args], { cwd: paths.workspace, env })).stdout;
  if (opts.upstreamExtra) {
    await fs.appendFile(path.join(paths.workspace, "src/main.rs"), opts.upstreamExtra);
    await git(["commit", "-qam", "upstream test"]);
  }
  if (opts.noLockfile) await git(["rm", "-q", "Cargo.lock"]).then(() => git(["commit", "-qm", "no lock file"]));
  return { ctx, craft, workspace: paths.workspace, logs, git };
}

type Edit = { path: string; search: string; replace: string } | { path: string; content: string };
const answer = (edits: Edit[], summary = "change", read: string[] = []) => JSON.stringify({ summary, read, edits });

const FLAG: Edit = {
  path: "src/main.rs",
  search: `    let words: Vec<&String> = args.iter().filter(|a| *a != "-n" && *a != "--no-newline").collect();`,
  replace: `    let reverse = args.iter().any(|a| a == "--reverse");
    let words: Vec<&String> = args.iter().filter(|a| *a != "-n" && *a != "--no-newline" && *a != "--reverse").collect();`,
};
const REVERSED_FN: Edit = {
  path: "src/main.rs",
  search: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}\n",
  replace: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}\n\nfn reversed(text: &str) -> String {\n    text.chars().rev().collect()\n}\n",
};
const USE_REVERSED: Edit = {
  path: "src/main.rs",
  search: `    let _ = write!(out, "{}", upper(&text));`,
  replace: `    let shown = if reverse { reversed(&upper(&text)) } else { upper(&text) };\n    let _ = write!(out, "{}", shown);`,
};
const NEW_TEST: Edit = {
  path: "src/main.rs",
  search: "    #[test]\n    fn keeps_symbols() {",
  replace: '    #[test]\n    fn reverses() {\n        assert_eq!(super::reversed("abc"), "cba");\n    }\n\n    #[test]\n    fn keeps_symbols() {',
};
const GOOD = [FLAG, REVERSED_FN, USE_REVERSED, NEW_TEST];

function lastUser(s: LlmStandIn, i: number): string {
  return s.requests[i].body.messages.at(-1)!.content;
}

async function runModify(s: Scenario, stage = modify) {
  const from = standIn.requests.length;
  const out = (await stage(s.ctx, s.craft)) as Partial<Craft> & { modify?: ModifyReport };
  return { out, requests: standIn.requests.slice(from) };
}

test("the crate already fits: modify auto with a plan that says so changes nothing and asks no LLM", async () => {
  const s = await scenario({ plan: planWith([], true) });
  const { out, requests } = await runModify(s);
  assert.deepEqual(out, {});
  assert.equal(requests.length, 0);
  assert.match(s.logs.join("\n"), /skipped \(the plan says the crate alone is enough\)/);
});

test("the crate already fits: modify always, the LLM answers with no edits, the checks pass", async () => {
  const s = await scenario({ modify: "always", plan: planWith([{ name: "upper", args: ["abc"], expect_stdout: ["^ABC$"] }], true) });
  standIn.push(answer([], "it already does this"));
  const { out } = await runModify(s);
  assert.equal(out.modify?.rounds, 1);
  assert.deepEqual(out.modify?.commits, []);
  assert.deepEqual(out.modify?.changed_files, []);
  assert.equal(out.diff_stat, "");
  assert.deepEqual(out.tests, { passed: 2, failed: 0, acceptance_passed: 1, acceptance_failed: 0, acceptance_upstream: { passed: 1, failed: 0 } });
  assert.equal((await s.git(["rev-list", "--count", "HEAD"])).trim(), "1");
});

test("no edits on a crate without Cargo.lock: the lock cargo writes is not taken for a change that needs tests", async () => {
  const s = await scenario({ modify: "always", noLockfile: true, plan: planWith([{ name: "upper", args: ["abc"], expect_stdout: ["^ABC$"] }], true) });
  standIn.push(answer([], "it already does this"));
  const { out } = await runModify(s);
  assert.equal(out.modify?.rounds, 1);
  assert.deepEqual(out.modify?.changed_files, []);
  assert.equal(out.tests?.acceptance_passed, 1);
});

test("an edit that compiles and passes at once is committed with its new test", async () => {
  const s = await scenario();
  standIn.push(answer(GOOD, "add --reverse"));
  const { out, requests } = await runModify(s);
  assert.equal(requests.length, 1);
  const first = requests[0].body.messages;
  assert.equal(first[0].role, "system");
  assert.match(first[1].content, /```text data="instructions"\nUpper-case text; --reverse also reverses it\.\n```/);
  assert.match(first[1].content, /data="file tree"\n[\s\S]*src\/main\.rs/);
  assert.match(first[1].content, /data="file src\/main\.rs"\n\/\/! hello-upper/);
  assert.match(first[1].content, /"acceptance"[\s\S]*"failed": 1[\s\S]*does not match/);
  assert.deepEqual(out.tests, { passed: 3, failed: 0, acceptance_passed: 1, acceptance_failed: 0, acceptance_upstream: { passed: 0, failed: 1 } });
  assert.equal(out.modify?.rounds, 1);
  assert.equal(out.modify?.tests_old, 2);
  assert.equal(out.modify?.tests_new, 3);
  assert.deepEqual(out.modify?.changed_files, ["src/main.rs"]);
  assert.equal(out.llm?.provider, "groq");
  assert.equal(out.llm?.rounds, 1);
  assert.ok(out.llm!.prompt_tokens > 1000 && out.llm!.completion_tokens > 0);
  assert.match(out.diff_stat ?? "", /\+fn reversed\(text: &str\) -> String \{/);
  assert.match(await s.git(["log", "-1", "--format=%s"]), /^flakebot: round 1: add --reverse/);
  assert.equal((await s.git(["status", "--porcelain"])).trim(), "", "nothing left uncommitted, target/ not committed");
  assert.doesNotMatch(await s.git(["ls-files"]), /^target\//m);
});

test("a compile error goes back as cargo's diagnostics and is fixed in the next round", async () => {
  const s = await scenario();
  const broken = { ...USE_REVERSED, replace: USE_REVERSED.replace.replace("let shown =", "let shown: u32 =") };
  standIn.push(answer([FLAG, REVERSED_FN, broken, NEW_TEST], "add --reverse"));
  standIn.push(answer([{ path: "src/main.rs", search: "let shown: u32 =", replace: "let shown =" }], "fix the type"));
  const { out, requests } = await runModify(s);
  assert.equal(requests.length, 2);
  const feedback = lastUser(standIn, standIn.requests.indexOf(requests[1]));
  assert.match(feedback, /Round 2 of 6\. The result of your last answer:\s+Round 1: `cargo build --release` failed/);
  // Bounded context: one user message with the files as they are now, not the conversation.
  assert.deepEqual(requests[1].body.messages.map((m) => m.role), ["system", "user"]);
  assert.match(feedback, /data="file src\/main\.rs"[\s\S]*let shown: u32 =/);
  assert.match(feedback, /"message": "mismatched types"/);
  assert.match(feedback, /"file": "src\/main\.rs"/);
  assert.equal(out.modify?.rounds, 2);
  assert.equal(out.tests?.acceptance_passed, 1);
  assert.equal(out.modify?.commits.length, 1);
});

test("a failing acceptance test goes back with what the binary printed, and is fixed", async () => {
  const s = await scenario();
  // Round 1 knows the flag and adds a test, but does not reverse yet.
  const test2: Edit = { ...NEW_TEST, replace: NEW_TEST.replace.replace('super::reversed("abc"), "cba"', 'super::upper("ab"), "AB"').replace("fn reverses", "fn uppers_two") };
  standIn.push(answer([FLAG, test2], "accept --reverse"));
  standIn.push(answer([REVERSED_FN, USE_REVERSED, NEW_TEST], "reverse the text"));
  const { out, requests } = await runModify(s);
  const feedback = requests[1].body.messages.at(-1)!.content;
  assert.match(feedback, /binary fails acceptance tests/);
  assert.match(feedback, /"name": "reverses with --reverse"/);
  assert.match(feedback, /"stdout": "ABC\\n"/);
  assert.match(feedback, /does not match \\"\^CBA\$\\"/);
  assert.equal(out.modify?.rounds, 2);
  assert.equal(out.modify?.commits.length, 2, "each accepted round is a commit");
  assert.equal(out.tests?.passed, 4);
  assert.match(await s.git(["log", "--format=%s"]), /round 2: reverse the text\nflakebot: round 1: accept --reverse\nupstream/);
});

test("an answer that deletes a test is refused, the LLM is told why, and the test survives", async () => {
  const s = await scenario();
  const deleting: Edit = {
    path: "src/main.rs",
    search: '    #[test]\n    fn keeps_symbols() {\n        assert_eq!(upper("a;b|c$d"), "A;B|C$D");\n    }\n',
    replace: "",
  };
  standIn.push(answer([FLAG, REVERSED_FN, USE_REVERSED, deleting], "add --reverse, drop a test"));
  standIn.push(answer(GOOD, "add --reverse"));
  const { out, requests } = await runModify(s);
  const feedback = requests[1].body.messages.at(-1)!.content;
  assert.match(feedback, /your change was refused: it changes upstream test code/);
  assert.match(feedback, /the upstream test src\/main\.rs::tests::keeps_symbols was deleted, renamed or moved/);
  assert.equal(out.modify?.rounds, 2);
  assert.match(await fs.readFile(path.join(s.workspace, "src/main.rs"), "utf8"), /fn keeps_symbols\(\)/);
  assert.equal(out.tests?.passed, 3);
});

test("an upstream test that already failed may keep failing, reported and not counted; a new failure may not", async () => {
  const upstreamExtra = '\n#[cfg(test)]\nmod online {\n    #[test]\n    fn needs_network() {\n        panic!("no network here");\n    }\n}\n';
  const s = await scenario({ upstreamExtra });
  const failingNew: Edit = { ...NEW_TEST, replace: NEW_TEST.replace.replace('"cba"', '"abc"') };
  standIn.push(answer([FLAG, REVERSED_FN, USE_REVERSED, failingNew], "add --reverse"));
  standIn.push(answer([{ path: "src/main.rs", search: 'super::reversed("abc"), "abc"', replace: 'super::reversed("abc"), "cba"' }], "fix the test"));
  const { out, requests } = await runModify(s);
  assert.match(requests[0].body.messages[1].content, /"failing_tests": \[\s*"src\/main\.rs::online::needs_network"\s*\]/);
  const feedback = requests[1].body.messages.at(-1)!.content;
  assert.match(feedback, /`cargo test --release` failed/);
  assert.match(feedback, /"failing_tests": \[\s*"tests::reverses"\s*\]/);
  assert.match(feedback, /"failing_before_the_change": \[\s*"online::needs_network"\s*\]/);
  assert.deepEqual(out.tests, {
    passed: 3,
    failed: 0,
    known_failures: ["src/main.rs::online::needs_network"],
    acceptance_passed: 1,
    acceptance_failed: 0,
    acceptance_upstream: { passed: 0, failed: 1 },
  });
  assert.equal(out.modify?.rounds, 2);
});

test("invalid JSON, then a valid answer (through the OpenAI-compatible client)", async () => {
  const s = await scenario({ llmEnv: { OPENAI_BASE_URL: `${standIn.url}/v1`, FLAKEBOT_MODEL: "local-model" } });
  standIn.push("Here are my edits: src/main.rs gets a --reverse flag.");
  standIn.push(answer(GOOD, "add --reverse"));
  const { out, requests } = await runModify(s);
  assert.equal(requests.length, 2);
  assert.equal(requests[0].path, "/v1/chat/completions");
  assert.match(requests[1].body.messages.at(-1)!.content, /could not be used: the answer contains no JSON object/);
  assert.equal(out.modify?.rounds, 1, "a retry for JSON is not a round");
  assert.equal(out.llm?.provider, "openai");
  assert.equal(out.llm?.model, "local-model");
});

test("an edit path escaping the workspace is refused and nothing is written outside", async () => {
  const s = await scenario();
  const outsideFile = path.join(path.dirname(s.workspace), "escaped.rs");
  standIn.push(answer([...GOOD, { path: "../escaped.rs", content: "fn evil() {}" }], "add --reverse"));
  standIn.push(answer(GOOD, "add --reverse"));
  const { out, requests } = await runModify(s);
  const feedback = requests[1].body.messages.at(-1)!.content;
  assert.match(feedback, /your edits were refused and nothing was written/);
  assert.match(feedback, /\\"\.\.\/escaped\.rs\\" contains `\.\.`/);
  await assert.rejects(fs.access(outsideFile));
  assert.equal(out.modify?.rounds, 2);
  assert.equal(out.tests?.passed, 3);
});

test("the LLM may read files before editing; reads are not rounds", async () => {
  const s = await scenario();
  standIn.push(answer([], "need the manifest", ["Cargo.toml", "../../etc/passwd"]));
  standIn.push(answer(GOOD, "add --reverse"));
  const { out, requests } = await runModify(s);
  const files = requests[1].body.messages.at(-1)!.content;
  assert.match(files, /data="file Cargo\.toml"\n\[package\]/);
  assert.match(files, /\.\.\/\.\.\/etc\/passwd: "\.\.\/\.\.\/etc\/passwd" contains `\.\.`/);
  assert.doesNotMatch(files, /root:x:0/);
  assert.equal(out.modify?.rounds, 1);
});

test("a change without new tests is not finished: the LLM is asked for tests", async () => {
  const s = await scenario();
  standIn.push(answer([FLAG, REVERSED_FN, USE_REVERSED], "add --reverse"));
  standIn.push(answer([NEW_TEST], "test it"));
  const { out, requests } = await runModify(s);
  assert.match(requests[1].body.messages.at(-1)!.content, /adds no\s+passing tests: 2 tests pass now and 2 passed before/);
  assert.equal(out.tests?.passed, 3);
  assert.equal(out.modify?.rounds, 2);
});

test("the round budget running out is a clear modify error naming the last failure", async () => {
  const s = await scenario();
  const broken = { ...USE_REVERSED, replace: USE_REVERSED.replace.replace("let shown =", "let shown: u32 =") };
  standIn.push(answer([FLAG, REVERSED_FN, broken, NEW_TEST], "try 1"));
  standIn.push(answer([{ path: "src/main.rs", search: "fn main() {", replace: "fn main() {\n    let _unused: i32 = \"no\";" }], "try 2"));
  await assert.rejects(runModify(s, createModify({ maxRounds: 2 })), (err: Error) => {
    assert.ok(err instanceof CraftError);
    assert.equal(err.stage, "modify");
    assert.match(err.message, /no change passed its checks within 2 round\(s\); the last round failed: cargo build failed: mismatched types/);
    assert.match(err.message, /modify "never"/);
    return true;
  });
  assert.equal(standIn.pending(), 0);
});

test("the token budget running out is a clear modify error", async () => {
  const s = await scenario();
  standIn.push(answer([FLAG], "half a change"));
  await assert.rejects(runModify(s, createModify({ tokenBudget: 100 })), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "modify");
    assert.match(err.message, /token budget \(100\) ran out after 1 round/);
    return true;
  });
});

test("the modify budget running out, in a build or while the model hangs, is a clear modify error naming FLAKEBOT_MODIFY_BUDGET", async () => {
  const hung = await startLlmStandIn([HANG]);
  try {
    const s = await scenario({ llmEnv: { GROQ_API_KEY: KEY, GROQ_BASE_URL: hung.url, FLAKEBOT_MODIFY_BUDGET: "4s" } });
    await assert.rejects(modify(s.ctx, s.craft), (err: Error) => {
      assert.ok(err instanceof CraftError && err.stage === "modify", String(err));
      assert.match(err.message, /FLAKEBOT_MODIFY_BUDGET/);
      return true;
    });
  } finally {
    await hung.close();
  }
});

test("an LLM endpoint that fails is a clear modify error without the key", async () => {
  const s = await scenario();
  standIn.push({ status: 401, message: `Invalid API Key: ${KEY}` });
  await assert.rejects(runModify(s), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "modify");
    assert.match(err.message, /Groq call failed with HTTP 401/);
    assert.ok(!err.message.includes(KEY));
    return true;
  });
});

test('modify "always" without an LLM says what to set', async () => {
  const s = await scenario({ modify: "always", llmEnv: { FLAKEBOT_LLM: "none" } });
  await assert.rejects(runModify(s), (err: Error) => err instanceof CraftError && err.stage === "modify" && /GROQ_API_KEY/.test(err.message) && /sampling/.test(err.message));
});

test("with no key and a client that offers sampling, the client's model makes the change", async () => {
  const server = new McpServer({ name: "flakebot-test", version: "0.0.0" });
  const client = new Client({ name: "sampler", version: "0.0.0" }, { capabilities: { sampling: {} } });
  let asked = 0;
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    asked++;
    return { role: "assistant", model: "client-model", content: { type: "text", text: answer(GOOD, "add --reverse") } };
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), client.connect(b)]);
  try {
    const sampling = server.server.getClientCapabilities()?.sampling ? { sampling: server.server.createMessage.bind(server.server) } : {};
    const s = await scenario({ llmEnv: {}, client: sampling });
    const before = standIn.requests.length;
    const { out } = await runModify(s);
    assert.equal(asked, 1);
    assert.equal(standIn.requests.length, before, "the HTTP stand-in was not used");
    assert.equal(out.llm?.provider, "sampling");
    assert.equal(out.llm?.model, "client-model");
    assert.equal(out.tests?.acceptance_passed, 1);
  } finally {
    await client.close();
    await server.close();
  }
});
