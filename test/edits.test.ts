// Applying LLM edits safely, and the test guard's reading of Rust tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { applyEdits, EditRejected, readWorkspaceFile } from "../src/guard/edits.js";
import { blankRust, scanTests, testCodeChanges, testCodeRefusal, testsInSource } from "../src/guard/tests.js";
import { tempDir } from "./helpers/offline.js";
import { cargoMetadata } from "../src/backends/cargo/cargo.js";
import type { ReadManifests } from "../src/guard/manifest.js";
import { tomlLeaves } from "../src/guard/toml.js";

/** The manifests as cargo reads them, as the modify stage gives them to the guard. */
const cargo: ReadManifests = (root) => cargoMetadata({ cwd: root });

async function crate(): Promise<{ root: string; outside: string }> {
  const dir = await tempDir("flakebot-edits-");
  const root = path.join(dir, "ws");
  await fs.mkdir(path.join(root, "src"), { recursive: true });
  await fs.mkdir(path.join(root, ".git"));
  await fs.writeFile(path.join(root, "Cargo.toml"), '[package]\nname = "x"\nversion = "0.1.0"\n\n[dependencies]\n');
  await fs.writeFile(path.join(root, "src", "main.rs"), 'fn main() {\n    println!("a");\n    println!("a");\n}\n');
  const outside = path.join(dir, "outside");
  await fs.mkdir(outside);
  return { root, outside };
}

async function rejected(root: string, edits: Parameters<typeof applyEdits>[1]): Promise<string[]> {
  try {
    await applyEdits(root, edits, cargo);
  } catch (err) {
    if (err instanceof EditRejected) return err.problems;
    throw err;
  }
  assert.fail("the edits were accepted");
}

test("edits: search/replace and new files are applied inside the crate", async () => {
  const { root } = await crate();
  const r = await applyEdits(root, [
    { path: "src/main.rs", search: "fn main() {\n", replace: "fn main() {\n    hello();\n" },
    { path: "src/main.rs", search: "}\n", replace: "}\n\nfn hello() {}\n" },
    { path: "src/extra/mod.rs", content: "pub fn x() {}\n" },
  ], cargo);
  assert.deepEqual(r.changed, ["src/main.rs", "src/extra/mod.rs"]);
  assert.match(await fs.readFile(path.join(root, "src/main.rs"), "utf8"), /hello\(\);[\s\S]*fn hello\(\) \{\}/);
  assert.equal(await fs.readFile(path.join(root, "src/extra/mod.rs"), "utf8"), "pub fn x() {}\n");
});

test("edits: a file can be deleted, through the same path checks; deleting what is not there is refused", async () => {
  const { root, outside } = await crate();
  await fs.writeFile(path.join(root, "build.rs"), 'fn main() { panic!("no"); }\n');
  await fs.writeFile(path.join(outside, "keep.rs"), "x");
  await fs.symlink(outside, path.join(root, "link"));
  const problems = await rejected(root, [
    { path: "build.rs", delete: true },
    { path: "src/gone.rs", delete: true },
    { path: "../outside/keep.rs", delete: true },
    { path: "link/keep.rs", delete: true },
    { path: ".git/config", delete: true },
  ]);
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.match(problems[0], /"src\/gone\.rs" does not exist, so it cannot be deleted/);
  assert.match(problems[1], /contains `\.\.`/);
  assert.match(problems[2], /symbolic link/);
  assert.match(problems[3], /inside \.git\//);
  await fs.access(path.join(root, "build.rs"));
  await fs.access(path.join(outside, "keep.rs"));
  const r = await applyEdits(root, [{ path: "build.rs", delete: true }], cargo);
  assert.deepEqual(r.changed, ["build.rs"]);
  await assert.rejects(fs.access(path.join(root, "build.rs")));
});

test("edits: paths that leave the crate, .git, symlinks out and bad search texts are refused, and nothing is written", async () => {
  const { root, outside } = await crate();
  await fs.symlink(outside, path.join(root, "link"));
  await fs.symlink(path.join(outside, "f.rs"), path.join(root, "src", "f.rs"));
  const before = await fs.readFile(path.join(root, "src/main.rs"), "utf8");
  const problems = await rejected(root, [
    { path: "src/main.rs", search: "fn main", replace: "fn main2" },
    { path: "../outside/evil.rs", content: "x" },
    { path: "/etc/passwd", content: "x" },
    { path: "src/../../outside/x.rs", content: "x" },
    { path: ".git/hooks/pre-commit", content: "#!/bin/sh" },
    { path: "link/evil.rs", content: "x" },
    { path: "src/f.rs", content: "x" },
    { path: ".cargo/config.toml", content: "[build]\nrustc-wrapper = 'x'" },
    { path: "src/main.rs", search: 'println!("a");', replace: "" },
    { path: "src/main.rs", search: "not there", replace: "" },
    { path: "src/missing.rs", search: "a", replace: "b" },
  ]);
  assert.equal(problems.length, 10, problems.join("\n"));
  assert.match(problems[0], /"\.\.\/outside\/evil\.rs" contains `\.\.`/);
  assert.match(problems[1], /absolute/);
  assert.match(problems[3], /inside \.git\//);
  assert.match(problems[4], /symbolic link/);
  assert.match(problems[5], /symbolic link/);
  assert.match(problems[7], /occurs 2 times/);
  assert.match(problems[8], /not found/);
  assert.match(problems[9], /does not exist/);
  assert.equal(await fs.readFile(path.join(root, "src/main.rs"), "utf8"), before, "the valid edit was not applied either");
  assert.deepEqual(await fs.readdir(outside), []);
  const read = await readWorkspaceFile(root, "link/anything");
  assert.ok("problem" in read && /symbolic link/.test(read.problem));
});

test("edits: build scripts that use the network and git or outside path dependencies are refused", async () => {
  const { root } = await crate();
  const problems = await rejected(root, [
    { path: "build.rs", content: 'fn main() { std::process::Command::new("curl").arg("https://x.invalid/a").status().unwrap(); }' },
    { path: "Cargo.toml", search: "[dependencies]\n", replace: '[dependencies]\nfoo = { git = "https://github.com/x/foo" }\nbar = { path = "../../bar" }\n' },
  ]);
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(problems.join("\n"), /git dependency/);
  assert.match(problems.join("\n"), /path dependency outside the crate/);
  assert.match(problems.join("\n"), /build script "build\.rs" would use the network/);
  // An offline build script and a crates.io dependency are fine.
  await applyEdits(root, [
    { path: "build.rs", content: 'fn main() { println!("cargo:rerun-if-changed=build.rs"); }' },
    { path: "Cargo.toml", search: "[dependencies]\n", replace: '[dependencies]\nmemchr = "2"\n' },
  ], cargo);
});

test("edits: the manifest check reads TOML as cargo does: literal strings, inline and target tables", async () => {
  const { root, outside } = await crate();
  const manifest = await fs.readFile(path.join(root, "Cargo.toml"), "utf8");
  const cases: [string, RegExp][] = [
    ["[dependencies]\nfoo = { git = 'https://example.invalid/foo' }\n", /git dependency \(foo from git\+https:\/\/example\.invalid\/foo\)/],
    ["[dependencies.foo]\ngit = '''https://example.invalid/foo'''\n", /git dependency/],
    ["[target.'cfg(unix)'.dependencies]\nfoo = { git = \"https://example.invalid/foo\", branch = 'x' }\n", /git dependency/],
    ["[dependencies]\nbar = { path = '../outside' }\n", /path dependency outside the crate/],
    ['[dependencies]\n"bar".path = "../outside"\n', /path dependency outside the crate/],
  ];
  for (const [toml, expected] of cases) {
    const problems = await rejected(root, [{ path: "Cargo.toml", search: "[dependencies]\n", replace: toml }]);
    assert.match(problems.join("\n"), expected, toml);
    assert.equal(await fs.readFile(path.join(root, "Cargo.toml"), "utf8"), manifest, "a refused manifest is put back");
  }
  assert.deepEqual(await fs.readdir(outside), []);
  // A build script named with a literal string is reviewed like build.rs.
  const problems = await rejected(root, [
    { path: "gen.rs", content: 'fn main() { std::net::TcpStream::connect("203.0.113.1:80").ok(); }' },
    { path: "Cargo.toml", search: 'version = "0.1.0"\n', replace: "version = \"0.1.0\"\nbuild = 'gen.rs'\n" },
  ]);
  assert.match(problems.join("\n"), /build script "gen\.rs" would use the network/);
  await assert.rejects(fs.access(path.join(root, "gen.rs")), "a refused new file is removed again");
  const broken = await rejected(root, [{ path: "Cargo.toml", search: "[dependencies]\n", replace: "[dependencies\n" }]);
  assert.match(broken.join("\n"), /cargo cannot read the edited Cargo\.toml/);
});

test("edits: the manifest check refuses [patch] and [replace], a target without libtest's harness and a build script outside the crate, in every TOML spelling, with the reason", async () => {
  const { root, outside } = await crate();
  await fs.writeFile(path.join(root, "Cargo.toml"), '[[test]]\nname = "cli"\npath = "tests/cli.rs"\n\n[package]\nname = "x"\nversion = "0.1.0"\n\n[dependencies]\nitoa = "1"\n');
  await fs.mkdir(path.join(root, "tests"));
  await fs.writeFile(path.join(root, "tests/cli.rs"), "#[test]\nfn t() {}\n");
  await fs.writeFile(path.join(root, "src/lib.rs"), "");
  const manifest = await fs.readFile(path.join(root, "Cargo.toml"), "utf8");
  const patch = /Cargo\.toml would add or change a \[patch\] entry \(patch\.crates-io\.itoa\): dependencies must come from crates\.io as published/;
  const cases: [string, string, RegExp][] = [
    ["[dependencies]\n", "[patch.crates-io]\nitoa = { path = '../outside' }\n\n[dependencies]\n", patch],
    ["[dependencies]\n", "[patch.crates-io.itoa]\ngit = '''https://example.invalid/itoa'''\n\n[dependencies]\n", patch],
    ["[[test]]\n", 'patch.crates-io.itoa.path = "../outside"\n\n[[test]]\n', patch],
    ["[[test]]\n", "patch = { crates-io = { itoa = { path = '../outside' } } }\n[[test]]\n", patch],
    ["[dependencies]\n", '[ "p\\u0061tch" . "crates-io" ]\n"itoa" = { path = """../outside""" } # a comment\n\n[dependencies]\n', patch],
    ["[dependencies]\n", '[patch."https://github.com/x/y"]\nitoa = { path = "../outside" }\n\n[dependencies]\n', /a \[patch\] entry \(patch\.https:\/\/github\.com\/x\/y\.itoa\)/],
    ["[dependencies]\n", '[replace]\n"itoa:1.0.1" = { path = "../outside" }\n\n[dependencies]\n', /a \[replace\] entry \(replace\.itoa:1\.0\.1\)/],
    ['path = "tests/cli.rs"\n', 'path = "tests/cli.rs"\nharness = false\n', /would run the target \[\[test\]\] cli without libtest's harness \(harness = false\)/],
    ['[[test]]\nname = "cli"\npath = "tests/cli.rs"\n', 'test = [{ name = "cli", path = "tests/cli.rs", "harness" = false }]\n', /\[\[test\]\] cli without libtest's harness/],
    ["[[test]]\n", "lib.harness = false\n[[test]]\n", /the target \[lib\] without libtest's harness/],
  ];
  for (const [search, replace, expected] of cases) {
    const problems = await rejected(root, [{ path: "Cargo.toml", search, replace }]).catch((err: Error) => assert.fail(`${replace}: ${err.message}`));
    assert.match(problems.join("\n"), expected, replace);
    assert.equal(await fs.readFile(path.join(root, "Cargo.toml"), "utf8"), manifest, "a refused manifest is left as it was");
  }
  // Each spelling is one cargo reads: written by hand, cargo accepts the manifest.
  for (const [search, replace] of cases) {
    await fs.writeFile(path.join(root, "Cargo.toml"), manifest.replace(search, replace));
    await cargoMetadata({ cwd: root });
  }
  await fs.writeFile(path.join(root, "Cargo.toml"), manifest);
  assert.deepEqual(await fs.readdir(outside), []);

  // A [patch] upstream already had may stay as it is while the rest of the manifest changes.
  const upstream = manifest.replace("[dependencies]\n", "[patch.crates-io]\nitoa = { path = 'vendor/itoa' }\n\n[dependencies]\n");
  await fs.writeFile(path.join(root, "Cargo.toml"), upstream);
  await applyEdits(root, [{ path: "Cargo.toml", search: 'itoa = "1"\n', replace: 'itoa = "1"\nmemchr = "2"\n' }], cargo);
  const moved = await rejected(root, [{ path: "Cargo.toml", search: "'vendor/itoa'", replace: "'../outside'" }]);
  assert.match(moved.join("\n"), patch);
  // A build script outside the crate could not be reviewed: refused too.
  await fs.writeFile(path.join(outside, "build.rs"), 'fn main() { std::net::TcpStream::connect("203.0.113.1:80").ok(); }\n');
  const script = await rejected(root, [{ path: "Cargo.toml", search: 'version = "0.1.0"\n', replace: "version = \"0.1.0\"\nbuild = '../outside/build.rs'\n" }]);
  assert.match(script.join("\n"), /Cargo\.toml would run a build script outside the crate \(\.\.\/outside\/build\.rs\)/);
});

test("the TOML reader: every key where TOML puts it (headers, arrays of tables, dotted, quoted, inline, arrays)", () => {
  const leaves = tomlLeaves(
    [
      "# a comment",
      "top = 1979-05-27 07:32:00Z",
      '[a . "b.c"]',
      "d.e = 'lit' # after",
      '"f\\u0067" = """',
      'two "" quotes""""',
      "s = '''x''''",
      "[[t]]",
      'name = "one"',
      "[[t]]",
      "name = 'two'",
      "[t.sub]",
      "k = [1, { x = true }, [2],",
      "  # inside",
      "]",
      "i = { y = { z = -1.5e3 } , w = [] }",
    ].join("\r\n"),
  );
  assert.deepEqual(
    leaves.map((l) => `${l.path.join("/")}=${l.value}`),
    ["top=1979-05-27T07:32:00.000Z", "a/b.c/d/e=lit", 'a/b.c/fg=two "" quotes"', "a/b.c/s=x'", "t/0/name=one", "t/1/name=two", "t/1/sub/k/0=1", "t/1/sub/k/1/x=true", "t/1/sub/k/2/0=2", "t/1/sub/i/y/z=-1500"],
  );
});

const RUST = `
fn f() -> &'static str { "}" } // a brace in a string: {
/* a comment with #[test] fn fake() { */
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn one() {
        let c = '{';
        assert_eq!(f(), "}");
        assert!(c == '{', r#"raw " } string"#);
    }

    #[test]
    #[ignore = "slow"]
    fn slow() { assert!(true); }

    #[tokio::test]
    async fn later<'a>() { assert_ne!(1, 2); }

    fn helper() {}
}
`;

test("test guard: an out-of-line test module's declaration is test code (#[cfg(test)] mod tests; decides whether tests.rs is compiled)", async () => {
  const dir = await tempDir("flakebot-guard-decl-");
  await fs.mkdir(path.join(dir, "src"));
  const main = 'fn main() {}\n\n#[cfg(test)]\nmod tests;\n\n#[cfg(feature = "x")]\nmod extra;\n';
  await fs.writeFile(path.join(dir, "src/main.rs"), main);
  await fs.writeFile(path.join(dir, "src/tests.rs"), "#[test]\nfn works() {}\n");
  const before = await scanTests(dir);
  assert.ok(before.has("src/main.rs::mod tests;"));
  assert.ok(!before.has("src/main.rs::mod extra;"), "a module declaration without cfg(test) is not test code");
  const after = async (text: string) => {
    await fs.writeFile(path.join(dir, "src/main.rs"), text);
    return testCodeRefusal(testCodeChanges(before, await scanTests(dir))).join("\n");
  };
  assert.match(await after(main.replace("#[cfg(test)]\nmod tests;", "#[cfg(any())]\n#[cfg(test)]\nmod tests;")), /the upstream test module declaration src\/main\.rs::mod tests; was changed/);
  assert.match(await after(main.replace("#[cfg(test)]\nmod tests;", "#[cfg(all(test, any()))]\nmod tests;")), /src\/main\.rs::mod tests; was deleted, renamed or moved/);
  assert.equal(await after(main.replace('#[cfg(feature = "x")]', '#[cfg(feature = "y")]')), "", "the program's own modules may change");
});

test("test guard: reads test functions, their helpers and ignores, past strings and comments", () => {
  const blanked = blankRust(RUST);
  assert.equal(blanked.length, RUST.length);
  assert.ok(!blanked.includes("fake"));
  const tests = testsInSource("src/lib.rs", RUST);
  assert.deepEqual(
    tests.map((t) => [t.path, t.test, t.ignored]),
    [
      ["tests::one", true, false],
      ["tests::slow", true, true],
      ["tests::later", true, false],
      ["tests::helper", false, false],
    ],
  );
  assert.ok(!tests.some((t) => t.name === "f"), "code outside #[cfg(test)] is not test code");
  assert.match(tests[0].code, /^#\[test\] fn one\(\) \{ let c = '\{'; assert_eq!\(f\(\), "\}"\);/, "attributes, signature and body, strings kept");
});

test("test guard: upstream test code is read-only: changing, deleting, renaming or ignoring a test or helper is named; adding one is not", async () => {
  const dir = await tempDir("flakebot-guard-");
  await fs.mkdir(path.join(dir, "src"));
  await fs.writeFile(path.join(dir, "src/lib.rs"), RUST);
  const before = await scanTests(dir);
  const change = async (from: string, to: string, allow: string[] = []) => {
    await fs.writeFile(path.join(dir, "src/lib.rs"), RUST.replace(from, to));
    return testCodeChanges(before, await scanTests(dir), allow);
  };
  const refused = async (from: string, to: string) => testCodeRefusal(await change(from, to)).join("\n");
  assert.deepEqual(await change("    fn helper() {}", "    fn helper() {}\n    #[test]\n    fn added() { assert!(true); }"), []);
  assert.deepEqual(await change('fn f() -> &\'static str { "}" }', 'fn f() -> &\'static str { "{" }'), [], "the program may change");
  assert.deepEqual(await change("        let c = '{';", "        let c = '{'; "), [], "white space is not a change");
  assert.match(await refused("fn one()", "fn one_renamed()"), /the upstream test src\/lib\.rs::tests::one was deleted, renamed or moved/);
  assert.match(await refused("    #[test]\n    fn one", "    #[test]\n    #[ignore]\n    fn one"), /tests::one was marked #\[ignore\]/);
  assert.match(await refused("    #[test]\n    fn one", "    #[test]\n    #[cfg(any())]\n    fn one"), /tests::one was changed/);
  assert.match(await refused('assert_eq!(f(), "}");', "assert!(true);"), /tests::one was changed: upstream test code is read-only/);
  assert.match(await refused('assert_eq!(f(), "}");', 'assert_eq!(f(), "{");'), /allow_test_changes \(\["tests::one"\]\)/, "an expected value changed");
  assert.match(await refused("fn helper() {}", "fn helper() { return; }"), /the upstream test helper src\/lib\.rs::tests::helper was changed/);
  assert.match(
    await refused("    fn helper() {}", "    macro_rules! assert_eq { ($a:expr, $b:expr) => {}; }\n    fn helper() {}"),
    /src\/lib\.rs defines a macro assert_eq!, which would replace the assertion every test uses: the tests' assertions may not be redefined/,
  );
  // Attributes around a test decide whether it is compiled at all: on its module (outer or inner) and its file.
  assert.match(await refused("#[cfg(test)]\nmod tests {", "#[cfg(any())]\n#[cfg(test)]\nmod tests {"), /the attributes of the module or file around the upstream test src\/lib\.rs::tests::one were changed/);
  assert.match(await refused("mod tests {\n    use super::*;", "mod tests {\n    #![cfg(any())]\n    use super::*;"), /around the upstream test src\/lib\.rs::tests::slow were changed/);
  assert.match(await refused("\nfn f()", "#![cfg(any())]\nfn f()"), /around the upstream test src\/lib\.rs::tests::later were changed/);
  // Lint levels and docs around the tests decide nothing of what runs: the program may add them.
  assert.deepEqual(await change("\nfn f()", "#![allow(dead_code)]\nfn f()"), []);
  assert.deepEqual(await change("#[cfg(test)]\nmod tests {", "#[cfg(test)]\n#[allow(unused_imports)]\n/// Tests.\nmod tests {"), []);
  // A module of its own with the same test names is an addition; the one it would replace is still guarded.
  assert.deepEqual(await change("    fn helper() {}\n}\n", "    fn helper() {}\n}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn one() {}\n}\n"), []);
  const allowed = await change('assert_eq!(f(), "}");', 'assert_eq!(f(), "{");', ["one"]);
  assert.equal(allowed.length, 1);
  assert.equal(allowed[0].allowedBy, "one");
  assert.deepEqual(testCodeRefusal(allowed), []);
});
