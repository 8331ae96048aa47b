// Real help formats this machine's GNU tools print (captured with `LANG=C <tool> --help` into
// test/fixtures/help/*-gnu.txt: GNU tar 1.34, sed 4.9, grep 3.8, diffutils 3.8, coreutils 9.1,
// findutils 4.9), help found the way a person finds it, examples that are run before they
// are offered, descriptions that are sentences, and schemas that never block `{args}`.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { parseHelp } from "../src/schema/help.js";
import { buildArgv, paramsToZodShape, strictInput } from "../src/schema/argv.js";
import { rawInputShape, asSentence, summaryFrom } from "../src/schema/definition.js";
import { findHelp, isHelpText, type HelpRunOutput } from "../src/schema/find-help.js";
import { checkedExample, exampleCandidates } from "../src/schema/example.js";
import { stripEscapes } from "../src/exec/invoke.js";
import { hiddenNote, hiddenPaths, sandboxReadPaths } from "../src/exec/visible.js";
import { runProcess } from "../src/exec/process.js";
import { fixturesDir, tempDir } from "./helpers/offline.js";
import type { HelpParam } from "../src/model/craft.js";

const helpDir = path.join(fixturesDir, "help");
const fixture = (name: string) => fs.readFile(path.join(helpDir, name), "utf8");
const byName = (params: HelpParam[]) => new Map(params.map((p) => [p.name, p]));
const GNU = ["tar", "sed", "cut", "grep", "diff", "tr", "xargs", "date"];
const schemaOf = (params: HelpParam[]) => strictInput({ ...rawInputShape, ...paramsToZodShape(params) });

/** Runs a real program as the verify stage would (argv only), without the sandbox. */
function runner(program: string): (args: string[], stdin?: string) => Promise<HelpRunOutput> {
  return async (args, stdin = "") => {
    const r = await runProcess([program, ...args], { cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" }, timeoutMs: 10_000, stdin });
    return { exit_code: r.exitCode, stdout: r.stdout, stderr: r.stderr, timed_out: r.timedOut };
  };
}

test("tar: a one-space section header ends the examples, so its options are all there", async () => {
  const p = byName(parseHelp(await fixture("tar-gnu.txt")));
  assert.ok(p.size > 100, `only ${p.size} parameters`);
  assert.equal(p.get("create")!.flag, "--create");
  assert.equal(p.get("extract")!.kind, "flag");
  assert.equal(p.get("file")!.kind, "option");
  assert.equal(p.get("directory")!.flag, "--directory");
  assert.equal(p.get("strip_components")!.type, "number");
});

test("sed: -e script, --expression=script and -f script-file are options with values", async () => {
  const p = byName(parseHelp(await fixture("sed-gnu.txt")));
  assert.deepEqual([p.get("expression")!.kind, p.get("expression")!.flag], ["option", "--expression"]);
  assert.deepEqual([p.get("file")!.kind, p.get("file")!.flag], ["option", "--file"]);
  assert.equal(p.get("quiet")!.kind, "flag");
  assert.equal(p.get("regexp_extended")!.flag, "--regexp-extended");
  const r = await runner("sed")(buildArgv([...p.values()], { expression: "s/o/0/g" }), "foo\n");
  assert.equal(r.stdout, "f00\n");
});

test("cut: the range table is not a flag; its LIST options stay strings", async () => {
  const params = parseHelp(await fixture("cut-gnu.txt"));
  const p = byName(params);
  assert.ok(!p.has("m_upper") && !params.some((x) => x.flag === "-M"), params.map((x) => x.name).join(","));
  assert.equal(p.get("fields")!.type, "string");
  assert.equal(p.get("delimiter")!.flag, "--delimiter");
});

test("grep: --color[=WHEN], on its own line is an option of its own, not the previous one's text", async () => {
  const p = byName(parseHelp(await fixture("grep-gnu.txt")));
  assert.equal(p.get("color")!.kind, "flag");
  assert.doesNotMatch(p.get("null")?.description ?? "", /--color/);
  assert.deepEqual(p.get("binary_files")!.choices, ["binary", "text", "without-match"]);
  assert.deepEqual(p.get("directories")!.choices, ["read", "recurse", "skip"]);
  assert.equal(p.get("max_count")!.type, "number");
  assert.equal(p.get("context")!.type, "number");
});

test("every GNU help text keeps its options, and {args} or {stdin} alone always validates", async () => {
  for (const tool of GNU) {
    const params = parseHelp(await fixture(`${tool}-gnu.txt`));
    assert.ok(params.filter((x) => x.kind !== "positional").length >= 5 || tool === "tr", `${tool}: ${params.length}`);
    const schema = schemaOf(params);
    assert.ok(schema.safeParse({ args: ["--version"] }).success, tool);
    assert.ok(schema.safeParse({ stdin: "x\n" }).success, tool);
    assert.ok(schema.safeParse({}).success, tool);
    const json = z.toJSONSchema(schema) as { required?: string[]; additionalProperties?: boolean };
    assert.deepEqual(json.required ?? [], [], `${tool} requires nothing`);
    assert.equal(json.additionalProperties, false);
    const unknown = schema.safeParse({ args: [], colour_me: true });
    assert.ok(!unknown.success);
    assert.match(unknown.error.issues[0].message, /^unknown parameter colour_me: this tool takes args, stdin, timeout_ms, raw_output, /);
  }
});

test("a call with named values that leaves out a required positional is told what is missing", async () => {
  const tr = parseHelp(await fixture("tr-gnu.txt"));
  assert.deepEqual(tr.filter((x) => x.required).map((x) => x.name), ["string1"]);
  assert.throws(() => buildArgv(tr, { squeeze_repeats: true }), /missing required parameter string1: give it by name, or pass the whole command line as "args"/);
  assert.deepEqual(buildArgv(tr, { squeeze_repeats: true }, ["a"]), ["--squeeze-repeats", "a"]); // args may carry it
  assert.deepEqual(buildArgv(tr, {}), []); // {stdin} alone
});

test("numbers only when plainly numeric; enums from clap's possible values; subcommands an optional enum", () => {
  const help = `Usage: tool [OPTIONS] [COMMAND]

Commands:
  run   Run it
  stop  Stop it

Options:
      --level <LEVEL>   Verbosity [possible values: quiet, info, verbose, debug]
      --size <SIZE>     Buffer size, like 4KiB or 1M [default: 64]
      --depth <DEPTH>   How deep [default: 3]
      --count <COUNT>   How many
  -h, --help            Print help
`;
  const p = byName(parseHelp(help));
  assert.deepEqual([p.get("level")!.type, p.get("level")!.choices], ["string", ["quiet", "info", "verbose", "debug"]]);
  assert.equal(p.get("size")!.type, "string");
  assert.equal(p.get("depth")!.type, "number");
  assert.equal(p.get("count")!.type, "number");
  assert.deepEqual([p.get("command")!.choices, p.get("command")!.required], [["run", "stop"], false]);
  const schema = schemaOf([...p.values()]);
  assert.ok(!schema.safeParse({ level: "loud" }).success);
  assert.ok(schema.safeParse({ level: "info", command: "run" }).success);
});

test("help is found with -h, help or no arguments, on stderr with a non-zero exit, never in ordinary output", async () => {
  const out = (stdout: string, stderr = "", exit_code: number | null = 0): HelpRunOutput => ({ exit_code, stdout, stderr, timed_out: false });
  const sed = await fixture("sed-gnu.txt");
  // help only with no arguments, on stderr, exit 1 (the shape of many getopts programs)
  const noArgs = await findHelp(async (args) => (args.length === 0 ? out("", sed, 1) : out("", `unknown option ${args[0]}\n`, 2)));
  assert.deepEqual(noArgs?.args, []);
  assert.equal(noArgs?.text, sed);
  // a program that echoes its arguments: its output is not help
  const echo = await findHelp(async (args) => out(`${args.join(" ").toUpperCase()}\n`));
  assert.equal(echo, undefined);
  // clap's refusal names USAGE but is an error
  const clapError = "error: unexpected argument '--help' found\n\nUsage: tool <FILE>\n\nFor more information, try '-h'.\n";
  assert.equal(isHelpText(clapError), false);
  const h = await findHelp(async (args) => (args[0] === "-h" ? out("Usage: tool [FILE]\n\nOptions:\n  -q  quiet\n") : out("", clapError, 2)));
  assert.deepEqual(h?.args, ["-h"]);
  // real programs: tr prints help with --help; with no arguments it prints an error, not help
  assert.deepEqual((await findHelp(runner("tr")))?.args, ["--help"]);
  const trNoArgs = await runner("tr")([]);
  assert.equal(isHelpText(trNoArgs.stdout + trNoArgs.stderr), false);
});

test("examples are built from the parameters and kept only when the real program runs them", async () => {
  // grep: a required pattern, a flag, text on stdin
  const grep = parseHelp(await fixture("grep-gnu.txt"));
  const ex = await checkedExample(grep, exampleCandidates(grep, await fixture("grep-gnu.txt"), ["--help"]), (argv, stdin) => runner("grep")(argv, stdin));
  assert.ok(ex, "an example ran");
  assert.equal(ex.call.patterns, "hello");
  assert.equal(ex.stdin, "hello world\n");
  assert.ok(schemaOf(grep).safeParse(ex.call).success, "the example validates");
  const r = await runner("grep")(ex.argv, ex.stdin);
  assert.equal(r.exit_code, 0);
  // cut needs a list no example can guess: only the help call is left, and it runs
  const cut = parseHelp(await fixture("cut-gnu.txt"));
  const cutEx = await checkedExample(cut, exampleCandidates(cut, await fixture("cut-gnu.txt"), ["--help"]), (argv, stdin) => runner("cut")(argv, stdin));
  assert.deepEqual(cutEx?.call, { args: ["--help"] });
  // a candidate the schema refuses is never run
  let ran = 0;
  const none = await checkedExample(cut, [{ fields: 1 }, { no_such: true }], async () => (ran++, { exit_code: 0, stdout: "x", stderr: "", timed_out: false }));
  assert.equal(none, undefined);
  assert.equal(ran, 0);
});

test("descriptions are prose sentences: never a usage line, an 'or:' line or a table row", async () => {
  assert.equal(summaryFrom("lalrpop 0.19.0\nUsage: lalrpop [options] <inputs>...\n       lalrpop (-V | --version)\n\nOptions:\n  -l, --level LEVEL  Set level\n"), undefined);
  assert.equal(summaryFrom(await fixture("date-gnu.txt")), "Display date and time in the given FORMAT.");
  assert.equal(summaryFrom(await fixture("cut-gnu.txt")), "Print selected parts of lines from each FILE to standard output.");
  assert.equal(summaryFrom("  NAME     VALUE     DESCRIPTION\nA table viewer for the terminal\n"), "A table viewer for the terminal");
  assert.equal(asSentence("a hex viewer for the terminal"), "A hex viewer for the terminal.");
  assert.equal(asSentence("Counts words:"), "Counts words.");
  assert.equal(asSentence("Done!"), "Done!");
});

test("escape sequences are removed from what the agent reads", () => {
  assert.equal(stripEscapes("\x1b[1;31m00000000\x1b[0m │ \x1b]8;;http://x\x07link\x1b]8;;\x07\x1b(B"), "00000000 │ link");
  assert.equal(stripEscapes("plain\ttext\n"), "plain\ttext\n");
});

test("a host path the sandbox hides is named, with how to grant it; FLAKEBOT_SANDBOX_READ must be absolute", async () => {
  const dir = await tempDir("flakebot-visible-");
  try {
    const file = path.join(dir, "data.bin");
    await fs.writeFile(file, "x");
    const tmpFile = file.startsWith("/tmp/") ? file : undefined;
    const hidden = hiddenPaths(["-n", "4", `--file=${file}`, file, "/usr/bin/env", "/no/such/file"], { shown: [], hidden: [dir] });
    assert.deepEqual(hidden, [file]);
    assert.deepEqual(hiddenPaths([file], { shown: [dir], hidden: [dir] }), [], "a granted path is not hidden");
    if (tmpFile) assert.deepEqual(hiddenPaths([tmpFile], { shown: [], hidden: [] }), [tmpFile], "/tmp is the program's own");
    assert.match(hiddenNote(hidden)!, new RegExp(`hides ${file.replace(/[.]/g, "\\.")} .*FLAKEBOT_SANDBOX_READ=${dir.replace(/[.]/g, "\\.")} `));
    assert.deepEqual(sandboxReadPaths({ FLAKEBOT_SANDBOX_READ: `${dir}::/srv/x/` }), [dir, "/srv/x"]);
    assert.throws(() => sandboxReadPaths({ FLAKEBOT_SANDBOX_READ: "data:/srv" }), /"data" is not absolute: give absolute paths separated by ":"/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
