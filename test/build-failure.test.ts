// A failed build's message leads with the root cause and says what to do, from real cargo
// runs: a type error (the broken fixture), a build script that needs a missing system tool,
// and a rust-toolchain pin named when the failure is the toolchain's.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { cargoBuild } from "../src/backends/cargo/cargo.js";
import { buildFailureMessage, withToolchainNote } from "../src/backends/build-failure.js";
import { fixturesDir, tempDir } from "./helpers/offline.js";
import type { TargetInfo } from "../src/model/craft.js";

const target = (pkg: string, bin: string): TargetInfo => ({ package: pkg, version: "0.1.0", bin, dir: "", in_workspace: false, has_lockfile: false });

test("a type error: the first rustc error leads, with what to do, and no dangling colon", { timeout: 300_000 }, async () => {
  const dir = await tempDir("flakebot-buildfail-");
  try {
    const ws = path.join(dir, "broken");
    await fs.cp(path.join(fixturesDir, "crates", "broken"), ws, { recursive: true });
    const out = await cargoBuild(target("broken", "broken"), { cwd: ws, timeoutMs: 240_000 });
    assert.equal(out.ok, false);
    const message = buildFailureMessage("cargo build", out.diagnostics, out.output, ws);
    const first = message.split("\n")[0];
    assert.match(first, /^cargo build failed: mismatched types \(src\/main\.rs:2\)\. The code does not build/);
    assert.match(first, /modify "always"\)\.$/);
    assert.ok(!message.split("\n").some((l) => /:\s*$/.test(l)), "no line ends in a colon");
    // An old numbered pin makes any compiler error suspect; a pin to "stable" does not.
    await fs.writeFile(path.join(ws, "rust-toolchain"), "1.46.0\n");
    assert.match(buildFailureMessage("cargo build", out.diagnostics, out.output, ws).split("\n")[0], /^cargo build failed: mismatched types \(src\/main\.rs:2\)\. The project pins the Rust toolchain to 1\.46\.0 in rust-toolchain; .* which may be why/);
    await fs.writeFile(path.join(ws, "rust-toolchain"), "stable\n");
    assert.doesNotMatch(buildFailureMessage("cargo build", out.diagnostics, out.output, ws), /pins the Rust toolchain/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("a build script that needs a missing tool: its own error leads, and the fix is to install it", { timeout: 300_000 }, async () => {
  const dir = await tempDir("flakebot-buildfail-");
  try {
    const ws = path.join(dir, "needs-tool");
    await fs.mkdir(path.join(ws, "src"), { recursive: true });
    await fs.writeFile(path.join(ws, "Cargo.toml"), '[package]\nname = "needs-tool"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n');
    await fs.writeFile(path.join(ws, "src", "main.rs"), "fn main() {}\n");
    await fs.writeFile(
      path.join(ws, "build.rs"),
      'fn main() { for i in 0..40 { println!("cargo:warning=noise {i}"); } std::process::Command::new("flakebot-no-such-generator").status().expect("flakebot-no-such-generator not found: is it installed?"); }\n',
    );
    const out = await cargoBuild(target("needs-tool", "needs-tool"), { cwd: ws, timeoutMs: 240_000 });
    assert.equal(out.ok, false);
    const first = buildFailureMessage("cargo build", out.diagnostics, out.output, ws).split("\n")[0];
    assert.match(first, /^cargo build failed: the build script of needs-tool v0\.1\.0 \([^)]*\) failed: .*flakebot-no-such-generator not found/);
    assert.match(first, /install it where Flakebot runs/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("a rust-toolchain pin is named when the failure is the toolchain's", async () => {
  const dir = await tempDir("flakebot-buildfail-");
  try {
    await fs.writeFile(path.join(dir, "rust-toolchain.toml"), '[toolchain]\nchannel = "1.46.0"\n');
    const message = withToolchainNote("cargo metadata failed: error: toolchain '1.46.0-x86_64-unknown-linux-gnu' is not installed", dir);
    assert.match(message, /The project pins the Rust toolchain to 1\.46\.0 in rust-toolchain\.toml; Flakebot builds with this machine's toolchain instead/);
    assert.equal(withToolchainNote("no such package", dir), "no such package");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
