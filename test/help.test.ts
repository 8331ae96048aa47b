// Typed parameters from real programs' --help: hexyl 0.8.0 (clap 2), the clapper fixture
// (clap 4), GNU coreutils (getopt_long). The captured texts live in test/fixtures/help/;
// hexyl and clapper are also built offline here and their live --help is checked against the
// captures, and the argv built from named values is run against the real binaries.
//
// hexyl-0.8.0.txt was captured from Debian's packaged source (/usr/share/cargo/registry/
// hexyl-0.8.0, built with the offline CARGO_HOME; `hexyl --help` prints on stderr);
// wc/sort/ls-coreutils.txt from `LANG=C wc --help` (GNU coreutils 9.1).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { z } from "zod";
import { parseHelp, pickHelpText, PARAM_NAME, RESERVED_KEYS } from "../src/schema/help.js";
import { buildArgv, paramsToZodShape, ParamValueError } from "../src/schema/argv.js";
import type { HelpParam } from "../src/model/craft.js";
import { runChecked, runProcess } from "../src/exec/process.js";
import { DEBIAN_REGISTRY, HEXYL_TARGET_DIR, fixturesDir, offlineCargoHome, repoRoot, tempDir } from "./helpers/offline.js";
import { inspector, inspectorMissing, node22 } from "./helpers/inspector.js";

const helpDir = path.join(fixturesDir, "help");
const fixture = (name: string) => fs.readFile(path.join(helpDir, name), "utf8");
const byName = (params: HelpParam[]) => new Map(params.map((p) => [p.name, p]));

// ---------------------------------------------------------------------------------------
// Live builds (each once per run, in parallel): hexyl from Debian's source, clapper.

interface Built {
  binary: string;
}
let hexyl: Promise<Built>;
let clapper: Promise<Built>;
let work: string;
let env: Record<string, string>;

async function buildCrate(src: string, bin: string, targetDir?: string): Promise<Built> {
  const dest = path.join(work, bin);
  await fs.cp(src, dest, { recursive: true });
  await fs.rm(path.join(dest, "Cargo.lock"), { force: true }); // Debian's sources pin nothing usable
  const target = targetDir ?? path.join(dest, "target");
  await runChecked(["cargo", "build", "--release", "--offline", "--quiet", "--bin", bin], { cwd: dest, env: { ...env, CARGO_TARGET_DIR: target }, timeoutMs: 600_000 });
  // A private copy: another test file may rebuild the shared target's hexyl meanwhile.
  const binary = path.join(work, "bin", bin); // the same name: clap prints argv[0]
  await fs.mkdir(path.dirname(binary), { recursive: true });
  await fs.copyFile(path.join(target, "release", bin), binary);
  return { binary };
}

before(async () => {
  work = await tempDir("flakebot-help-");
  env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? work,
    CARGO_HOME: await offlineCargoHome(work),
    LANG: "C.UTF-8",
  };
  if (process.env.RUSTUP_HOME) env.RUSTUP_HOME = process.env.RUSTUP_HOME;
  hexyl = buildCrate(path.join(DEBIAN_REGISTRY, "hexyl-0.8.0"), "hexyl", HEXYL_TARGET_DIR);
  clapper = buildCrate(path.join(fixturesDir, "crates", "clapper"), "clapper");
  // Rejections are awaited by the tests that need the binaries.
  hexyl.catch(() => {});
  clapper.catch(() => {});
});

after(async () => {
  await Promise.allSettled([hexyl, clapper]);
  await fs.rm(work, { recursive: true, force: true });
});

async function helpOf(binary: string): Promise<string> {
  const r = await runChecked([binary, "--help"], { cwd: work, env: { PATH: env.PATH, LANG: "C.UTF-8" }, timeoutMs: 10_000 });
  return pickHelpText(r.stdout, r.stderr);
}

// ---------------------------------------------------------------------------------------
// hexyl 0.8.0, clap 2

test("hexyl (clap 2): options with values, a flag, an optional positional; no help/version", async () => {
  const params = parseHelp(await fixture("hexyl-0.8.0.txt"));
  assert.deepEqual(
    params.map((p) => `${p.kind}:${p.name}:${p.type}`),
    [
      // N "can also include a unit" (--length=4KiB): a string, and so is its alias --bytes
      "option:length:string",
      "option:bytes:string",
      "option:skip:string",
      "option:block_size:string",
      "flag:no_squeezing:boolean",
      "option:color:string",
      "option:border:string",
      "option:display_offset:string",
      "positional:file:string",
    ],
  );
  const p = byName(params);
  // [possible values: ...] become choices
  assert.deepEqual(p.get("color")!.choices, ["always", "auto", "never"]);
  assert.deepEqual(p.get("border")!.choices, ["unicode", "ascii", "none"]);
  assert.equal(p.get("length")!.flag, "--length");
  assert.equal(p.get("block_size")!.flag, "--block-size");
  // Wrapped descriptions become one line; defaults and possible values stay in them.
  assert.equal(
    p.get("border")!.description,
    "Whether to draw a border with Unicode characters, ASCII characters, or none at all [default: unicode] [possible values: unicode, ascii, none]",
  );
  // clap 2 writes <FILE> in ARGS, but the usage line says [FILE]: it is optional.
  assert.equal(p.get("file")!.required, false);
  assert.equal(p.get("file")!.multiple, false);
  assert.match(p.get("file")!.description!, /^The file to display/);
  assert.ok(params.every((x) => x.required !== true));
});

test("hexyl built offline from Debian's source prints exactly the captured help (on stderr)", async () => {
  const built = await hexyl;
  const live = await helpOf(built.binary);
  assert.equal(live, await fixture("hexyl-0.8.0.txt"));
  const r = await runProcess([built.binary, "--help"], { cwd: work, env: { PATH: env.PATH }, timeoutMs: 10_000 });
  assert.equal(r.stdout, "", "hexyl 0.8 prints its help on stderr: pickHelpText must look there");
});

test("argv from named hexyl parameters runs the real hexyl as expected", async () => {
  const built = await hexyl;
  const params = parseHelp(await fixture("hexyl-0.8.0.txt"));
  const input = path.join(work, "input.bin");
  await fs.writeFile(input, "ABCDEFGH");
  const argv = buildArgv(params, { file: input, border: "none", length: "4", color: "never", no_squeezing: false });
  // Help order, not the order of the values: --length before --color before --border.
  assert.deepEqual(argv, ["--length", "4", "--color", "never", "--border", "none", input]);
  const r = await runChecked([built.binary, ...argv], { cwd: work, env: { PATH: env.PATH }, timeoutMs: 10_000 });
  assert.match(r.stdout, /41 42 43 44/);
  assert.doesNotMatch(r.stdout, /45/, "--length 4 read only 4 bytes");
  assert.doesNotMatch(r.stdout, /[│┌]/, "--border none drew no border");
});

// ---------------------------------------------------------------------------------------
// clapper, clap 4

test("clapper (clap 4): flags, numeric and string options with defaults, optional FILE", async () => {
  const params = parseHelp(await fixture("clapper-0.2.0.txt"));
  assert.deepEqual(params, [
    { name: "lines", kind: "flag", flag: "--lines", type: "boolean", description: "Count lines" },
    { name: "chars", kind: "flag", flag: "--chars", type: "boolean", description: "Count characters" },
    { name: "min_len", kind: "option", flag: "--min-len", type: "number", description: "Only count words longer than this many characters [default: 0]" },
    { name: "sep", kind: "option", flag: "--sep", type: "string", description: 'Separator printed between counts [default: " "]' },
    { name: "file", kind: "positional", type: "string", required: false, multiple: false, description: "Input file (standard input when absent)" },
  ]);
});

test("clapper built offline prints the captured help, and named values drive it", async () => {
  const built = await clapper;
  assert.equal(await helpOf(built.binary), await fixture("clapper-0.2.0.txt"));
  const params = parseHelp(await fixture("clapper-0.2.0.txt"));
  const input = path.join(work, "words.txt");
  await fs.writeFile(input, "a bb ccc\ndddd\n");
  const run = async (values: Record<string, unknown>, raw: string[] = []) => {
    const argv = buildArgv(params, values, raw);
    const r = await runChecked([built.binary, ...argv], { cwd: work, env: { PATH: env.PATH }, timeoutMs: 10_000 });
    return { argv, out: r.stdout.trim() };
  };
  assert.deepEqual(await run({ file: input, lines: true, min_len: 1 }), { argv: ["--lines", "--min-len", "1", input], out: "3 2" });
  // A value starting with "-" is attached, or clap would read "--" as the end of options.
  assert.deepEqual(await run({ file: input, lines: true, sep: "--" }), { argv: ["--lines", "--sep=--", input], out: "4--2" });
  // Raw args come last.
  assert.deepEqual(await run({ chars: true }, [input]), { argv: ["--chars", input], out: "4 14" });
});

// ---------------------------------------------------------------------------------------
// GNU coreutils (getopt_long)

test("wc (GNU): short+long flags, an option with =F, and FILE... from the usage line", async () => {
  const params = parseHelp(await fixture("wc-coreutils.txt"));
  assert.deepEqual(
    params.map((p) => `${p.kind}:${p.name}:${p.flag ?? ""}:${p.type}`),
    [
      "flag:bytes:--bytes:boolean",
      "flag:chars:--chars:boolean",
      "flag:lines:--lines:boolean",
      "option:files0_from:--files0-from:string",
      "flag:max_line_length:--max-line-length:boolean",
      "flag:words:--words:boolean",
      "positional:file::string",
    ],
  );
  const file = byName(params).get("file")!;
  assert.equal(file.required, false);
  assert.equal(file.multiple, true);
  assert.equal(
    byName(params).get("files0_from")!.description,
    "read input from the files specified by NUL-terminated names in file F; If F is - then read names from standard input",
  );
});

test("argv from named wc parameters runs the real wc; a file named like a flag gets --", async () => {
  const params = parseHelp(await fixture("wc-coreutils.txt"));
  const dir = path.join(work, "wc");
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, "-odd"), "one two\nthree\n");
  await fs.writeFile(path.join(dir, "plain"), "x\n");
  const argv = buildArgv(params, { words: true, lines: true, file: ["-odd", "plain"] });
  assert.deepEqual(argv, ["--lines", "--words", "--", "-odd", "plain"]);
  const r = await runChecked(["wc", ...argv], { cwd: dir, env: { PATH: env.PATH, LANG: "C" }, timeoutMs: 10_000 });
  assert.match(r.stdout, /^\s*2\s+3 -odd$/m);
  assert.match(r.stdout, /^\s*1\s+1 plain$/m);
});

test("sort (GNU): literal spellings, numbers by value name, no --help/--version but --version-sort", async () => {
  const p = byName(parseHelp(await fixture("sort-coreutils.txt")));
  assert.equal(p.get("parallel")!.type, "number"); // --parallel=N
  assert.equal(p.get("buffer_size")!.type, "string"); // --buffer-size=SIZE takes 10% or 1G
  assert.equal(p.get("key")!.kind, "option");
  assert.equal(p.get("output")!.flag, "--output");
  assert.equal(p.get("field_separator")!.flag, "--field-separator");
  assert.equal(p.get("check")!.kind, "flag"); // -c, --check, --check=diagnose-first
  assert.deepEqual(
    { kind: p.get("check_quiet")!.kind, flag: p.get("check_quiet")!.flag },
    { kind: "flag", flag: "--check=quiet" }, // -C, --check=quiet, --check=silent
  );
  assert.equal(p.get("version_sort")!.flag, "--version-sort");
  assert.equal(p.get("human_numeric_sort")!.flag, "--human-numeric-sort"); // -h is not help here
  assert.ok(![...p.values()].some((x) => x.flag === "--help" || x.flag === "--version"));
  assert.match(p.get("sort")!.description!, /^sort according to WORD: general-numeric -g, .* version -V$/);
});

test("ls (GNU): short-only flags get distinct names, [=WHEN] stays a flag, COLS is a number", async () => {
  const p = byName(parseHelp(await fixture("ls-coreutils.txt")));
  assert.deepEqual([p.get("c")!.flag, p.get("c_upper")!.flag, p.get("opt_1")!.flag], ["-c", "-C", "-1"]);
  assert.equal(p.get("color")!.kind, "flag");
  assert.equal(p.get("tabsize")!.type, "number");
  assert.equal(p.get("width")!.type, "number");
  assert.equal(p.get("indicator_style")!.kind, "option");
  assert.equal(p.get("indicator_style_slash")!.flag, "--indicator-style=slash");
});

// ---------------------------------------------------------------------------------------
// clap 3/4 shapes no fixture crate has: written by hand in clap's own layouts.

const CLAP4_LONG_HELP = `Packs files into an archive

Usage: packer [OPTIONS] --name <NAME> <FILES>... [-- <ARGS>...]

Arguments:
  <FILES>...
          Files to pack

  [ARGS]...
          Extra arguments for the compressor

Options:
  -n, --name <NAME>
          Archive name

  -j, --jobs <N>
          Worker threads

  -b, --block <SIZE>
          Block size in KiB

          [default: 16]

      --level <LEVEL>
          Compression level

          Possible values:
          - fast: Fastest
          - best: Smallest

          [default: fast]

  -I, --include <GLOB>...
          Only pack matching files

      --stdin
          Read the file list from standard input

      --offset <OFFSET>
          Start at this byte (may be negative)

  -v, --verbose...
          More output

  -h, --help
          Print help (see a summary with '-h')

  -V, --version
          Print version
`;

const CLAP3_HELP = `tagger 1.2.0
Tags files

USAGE:
    tagger [OPTIONS] <TAG> [PATH]...

ARGS:
    <TAG>        The tag to add
    <PATH>...    Files to tag

OPTIONS:
        --timeout-ms <TIMEOUT_MS>    Give up after this long [default: 500]
    -x, --exclude <PATTERN>          Skip matching files
    -h, --help                       Print help information
    -V, --version                    Print version information
`;

test("clap 4 long help: required option from the usage, multiple values, numeric default, reserved names", () => {
  const params = parseHelp(CLAP4_LONG_HELP);
  const p = byName(params);
  assert.deepEqual(
    params.map((x) => x.name),
    ["name", "jobs", "block", "level", "include", "stdin_", "offset", "verbose", "files", "args_"],
  );
  assert.equal(p.get("name")!.required, true);
  assert.equal(p.get("jobs")!.type, "number");
  assert.equal(p.get("block")!.type, "number"); // [default: 16] wins over the value name SIZE
  assert.equal(p.get("block")!.description, "Block size in KiB [default: 16]");
  assert.equal(p.get("level")!.type, "string");
  assert.equal(p.get("include")!.multiple, true);
  assert.equal(p.get("verbose")!.kind, "flag");
  assert.deepEqual([p.get("files")!.required, p.get("files")!.multiple], [true, true]);
  assert.deepEqual([p.get("args_")!.required, p.get("args_")!.multiple], [false, true]);
  assert.equal(p.get("stdin_")!.flag, "--stdin");
  // "- fast: Fastest" is a description line, not an option.
  assert.ok(!params.some((x) => x.flag === "-" || x.name === "fast"));
});

test("clap 3 help: required and multiple positionals, timeout_ms never reused", () => {
  const params = parseHelp(CLAP3_HELP);
  assert.deepEqual(
    params.map((x) => `${x.kind}:${x.name}:${x.type}:${x.required ?? ""}:${x.multiple ?? ""}`),
    ["option:timeout_ms_:number::", "option:exclude:string::", "positional:tag:string:true:false", "positional:path:string:false:true"],
  );
});

const CLAP4_SUBCOMMANDS = `Usage: crane [OPTIONS] <COMMAND>

Commands:
  build  Compile the project
  test   Run the tests
  help   Print this message or the help of the given subcommand(s)

Options:
  -q, --quiet  Less output
  -h, --help   Print help
`;

test("clap 4 subcommands: a required command positional listing the commands", () => {
  assert.deepEqual(parseHelp(CLAP4_SUBCOMMANDS), [
    { name: "quiet", kind: "flag", flag: "--quiet", type: "boolean", description: "Less output" },
    { name: "command", kind: "positional", type: "string", required: true, multiple: false, description: "one of: build, test", choices: ["build", "test"] },
  ]);
});

const ARGH_HELP = `Usage: greet [--pretty] [-n <name>] [--times <count>] <file>

Greets people.

Positional Arguments:
  file              the file to greet

Options:
  --pretty          whether to be pretty
  -n, --name        the name
  --times           how many times
  --help, help      display usage information
`;

test("argh help: options whose values only the usage line shows", () => {
  assert.deepEqual(
    parseHelp(ARGH_HELP).map((x) => `${x.kind}:${x.name}:${x.type}:${x.required ?? ""}`),
    ["flag:pretty:boolean:", "option:name:string:", "option:times:number:", "positional:file:string:true"],
  );
});

test("every parameter name is a JSON property name and none is reserved", async () => {
  const texts = [CLAP4_LONG_HELP, CLAP3_HELP, CLAP4_SUBCOMMANDS, ARGH_HELP];
  for (const f of await fs.readdir(helpDir)) texts.push(await fixture(f));
  for (const text of texts) {
    const names = parseHelp(text).map((p) => p.name);
    assert.ok(names.length > 0);
    assert.equal(new Set(names).size, names.length, "names are unique");
    for (const n of names) {
      assert.match(n, PARAM_NAME);
      assert.ok(!RESERVED_KEYS.includes(n), `${n} is reserved`);
    }
  }
});

test("empty, unparseable or error output gives no parameters", () => {
  assert.deepEqual(parseHelp(""), []);
  assert.deepEqual(parseHelp("   \n\n"), []);
  assert.deepEqual(parseHelp("error: Found argument '--help' which wasn't expected\n"), []);
  assert.deepEqual(parseHelp("hello world\nthis program takes no options\n"), []);
  assert.deepEqual(parseHelp("\u0000\u0001\u00ff binary \x1b[31mgarbage\x1b[0m -- -\n"), []);
});

test("pickHelpText takes whichever stream holds the help", async () => {
  const help = await fixture("clapper-0.2.0.txt");
  assert.equal(pickHelpText(help, ""), help);
  assert.equal(pickHelpText("", help), help);
  assert.equal(pickHelpText("warning: something\n", help), help);
});

// ---------------------------------------------------------------------------------------
// argv building and the input schema

test("buildArgv: documented order, false flags and absent values left out, raw args last", () => {
  const params = parseHelp(CLAP4_LONG_HELP);
  const argv = buildArgv(
    params,
    { files: ["a.txt", "b.txt"], verbose: true, include: ["*.rs", "*.md"], stdin_: false, name: "out", jobs: 4, block: undefined },
    ["--raw", "x"],
  );
  assert.deepEqual(argv, ["--name", "out", "--jobs", "4", "--include", "*.rs", "--include", "*.md", "--verbose", "a.txt", "b.txt", "--raw", "x"]);
  // Negative numbers and dash values are attached to their option.
  assert.deepEqual(buildArgv(params, { offset: "-10", jobs: -1, name: "n", files: ["f"] }), ["--name", "n", "--jobs=-1", "--offset=-10", "f"]);
  // A short-only option attaches its value directly.
  const short: HelpParam[] = [{ name: "k", kind: "option", flag: "-k", type: "string" }];
  assert.deepEqual(buildArgv(short, { k: "-1" }), ["-k-1"]);
  assert.deepEqual(buildArgv(short, { k: "1" }), ["-k", "1"]);
  // "-" alone (standard input) needs no "--"; shell characters stay plain argv items.
  const pos: HelpParam[] = [{ name: "file", kind: "positional", type: "string" }];
  assert.deepEqual(buildArgv(pos, { file: "-" }), ["-"]);
  assert.deepEqual(buildArgv(pos, { file: "$(rm -rf /); `x` | y" }), ["$(rm -rf /); `x` | y"]);
});

test("positionals follow the usage line's order, and argv refuses a gap before a given one", () => {
  const params = parseHelp("Usage: tool <COMMAND> [FILE]\n\nArguments:\n  [FILE]  The file\n");
  assert.deepEqual(params.map((p) => `${p.name}:${p.required}`), ["command:true", "file:false"]);
  assert.deepEqual(buildArgv(params, { file: "f", command: "c" }), ["c", "f"]);
  const tagger = parseHelp(CLAP3_HELP);
  assert.deepEqual(buildArgv(tagger, { tag: "t", path: ["a", "b"] }), ["t", "a", "b"]);
  assert.throws(() => buildArgv(tagger, { path: ["a"] }), /missing required parameter tag: give it by name, or pass the whole command line as "args"/);
  const optional = parseHelp("Usage: tool [A] [B]\n");
  assert.throws(() => buildArgv(optional, { b: "x" }), /b needs a too: positional arguments are filled in order/);
});

test("buildArgv rejects values of the wrong type with a clear error", () => {
  const params = parseHelp(CLAP4_LONG_HELP).filter((p) => !p.required);
  assert.throws(() => buildArgv(params, { verbose: "yes" }), (e: Error) => e instanceof ParamValueError && /verbose is a flag/.test(e.message));
  assert.throws(() => buildArgv(params, { jobs: "4" }), /jobs must be a number/);
  assert.throws(() => buildArgv(params, { offset: ["a", "b"] }), /offset takes one value/);
  const hexyl: HelpParam[] = [{ name: "color", kind: "option", flag: "--color", type: "string", choices: ["always", "never"] }];
  assert.throws(() => buildArgv(hexyl, { color: "blue" }), /color must be one of always, never/);
});

/** The JSON schema problems the MCP Inspector's strict portability check reports. */
function portabilityProblems(schema: unknown, at = "$"): string[] {
  if (!schema || typeof schema !== "object") return [`${at}: not a schema`];
  const s = schema as Record<string, unknown>;
  const problems: string[] = [];
  if (Array.isArray(s.type)) problems.push(`${at}: type is an array`);
  if (s.anyOf) (s.anyOf as unknown[]).forEach((x, i) => problems.push(...portabilityProblems(x, `${at}.anyOf[${i}]`)));
  else if (typeof s.type !== "string") problems.push(`${at}: accepts anything (no type)`);
  if (s.type === "array") problems.push(...portabilityProblems(s.items, `${at}.items`));
  if (s.type === "object") {
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) problems.push(...portabilityProblems(v, `${at}.${k}`));
  }
  return problems;
}

test("the input schema a real MCP client lists is typed, described and portable", async () => {
  const params = parseHelp(await fixture("hexyl-0.8.0.txt"));
  const server = new McpServer({ name: "help-test", version: "0.0.0" });
  server.registerTool(
    "hexyl",
    {
      description: "hex viewer",
      inputSchema: {
        ...paramsToZodShape(params),
        args: z.array(z.string()).optional(),
        stdin: z.string().optional(),
        timeout_ms: z.number().int().min(1).max(600000).optional(),
      },
    },
    async () => ({ content: [] }),
  );
  const client = new Client({ name: "t", version: "0.0.0" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), client.connect(b)]);
  try {
    const { tools } = await client.listTools();
    const schema = tools[0].inputSchema as { properties: Record<string, { type: string; description?: string }>; required?: string[] };
    assert.deepEqual(portabilityProblems(schema), []);
    assert.equal(schema.properties.length.type, "string");
    assert.equal(schema.properties.no_squeezing.type, "boolean");
    assert.equal(schema.properties.color.type, "string");
    assert.match(schema.properties.color.description!, /\[possible values: always, auto, never\] \(option --color\)$/);
    assert.match(schema.properties.file.description!, /^The file to display/);
    assert.deepEqual(schema.required ?? [], []);

    const required = paramsToZodShape(parseHelp(CLAP4_LONG_HELP));
    const parsed = z.object(required).safeParse({ name: "x", files: ["a"] });
    assert.ok(parsed.success);
    assert.ok(z.object(required).safeParse({ files: ["a"] }).success, "the schema requires no named parameter");
    assert.ok(z.object(required).safeParse({}).success);
    assert.throws(() => buildArgv(parseHelp(CLAP4_LONG_HELP), { files: ["a"] }), /missing required parameter name:/);
    assert.ok(!z.object(required).safeParse({ name: "x", files: ["a"], jobs: "4" }).success, "jobs is a number");
    assert.deepEqual(portabilityProblems(z.toJSONSchema(z.object(required))), []);
  } finally {
    await client.close();
    await server.close();
  }
});


test(
  "the MCP Inspector's strict check finds nothing in the schemas of every help text here",
  { skip: inspectorMissing },
  async () => {
    const texts: Record<string, string> = { clap4_long: CLAP4_LONG_HELP, clap3: CLAP3_HELP, clap4_commands: CLAP4_SUBCOMMANDS, argh: ARGH_HELP };
    for (const f of await fs.readdir(helpDir)) texts[f.replace(/\W/g, "_")] = await fixture(f);
    const dir = path.join(work, "strict");
    await fs.mkdir(dir);
    const paramsFile = path.join(dir, "params.json");
    await fs.writeFile(paramsFile, JSON.stringify(Object.fromEntries(Object.entries(texts).map(([k, t]) => [k, parseHelp(t)]))));
    // A small stdio server registering one tool per help text, as the server registers crafted tools.
    const mod = (rel: string) => JSON.stringify(pathToFileURL(path.join(repoRoot, rel)).href);
    const script = path.join(dir, "server.mjs");
    await fs.writeFile(
      script,
      [
        `import fs from "node:fs";`,
        `import { McpServer } from ${mod("node_modules/@modelcontextprotocol/sdk/dist/esm/server/mcp.js")};`,
        `import { StdioServerTransport } from ${mod("node_modules/@modelcontextprotocol/sdk/dist/esm/server/stdio.js")};`,
        `import { z } from ${mod("node_modules/zod/index.js")};`,
        `import { paramsToZodShape } from ${mod("dist/src/schema/argv.js")};`,
        `const server = new McpServer({ name: "strict", version: "0.0.0" });`,
        `for (const [name, params] of Object.entries(JSON.parse(fs.readFileSync(${JSON.stringify(paramsFile)}, "utf8")))) {`,
        `  server.registerTool(name, { description: name, inputSchema: { ...paramsToZodShape(params), args: z.array(z.string()).optional(),`,
        `    stdin: z.string().optional(), timeout_ms: z.number().int().min(1).max(600000).optional() } }, async () => ({ content: [] }));`,
        `}`,
        `await server.connect(new StdioServerTransport());`,
      ].join("\n"),
    );
    const r = await runProcess([node22, inspector, "--cli", process.execPath, script, "--method", "tools/list", "--strict"], {
      cwd: dir,
      env: { PATH: env.PATH, HOME: env.HOME },
      timeoutMs: 60_000,
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as { tools: { name: string; inputSchema: { properties: Record<string, unknown> } }[] };
    assert.equal(listed.tools.length, Object.keys(texts).length);
    assert.ok(listed.tools.find((t) => t.name === "hexyl_0_8_0_txt")!.inputSchema.properties.display_offset);
    assert.doesNotMatch(r.stderr, /^(Warning|Error)\b/m, r.stderr);
  },
);
