// The npm package: what `npm pack` puts in it is what `npx flakebot` needs, and nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { repoRoot } from "./helpers/offline.js";
import { runChecked } from "../src/exec/process.js";

test("npm pack holds the server, its prompts and docs, and no tests or sources", { timeout: 120_000 }, async () => {
  const r = await runChecked(["npm", "pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot, env: process.env as Record<string, string>, timeoutMs: 100_000 });
  const files: string[] = JSON.parse(r.stdout)[0].files.map((f: { path: string }) => f.path);
  for (const needed of ["package.json", "README.md", "mcp.json", "dist/src/index.js", "dist/src/server/index.js", "prompts/plan.md", "prompts/edit.md"]) {
    assert.ok(files.includes(needed), `${needed} is packed`);
  }
  const stray = files.filter((f) => /^(test|bench|src|\.ci)\//.test(f) || f.startsWith("dist/test") || f.endsWith(".ts") || f.endsWith(".map") || f === "dist/src/cli/demo.js");
  assert.deepEqual(stray, []);
  const pkg = JSON.parse(await fs.readFile(path.join(repoRoot, "package.json"), "utf8"));
  assert.equal(pkg.bin.flakebot, "dist/src/index.js");
  assert.ok(pkg.engines.node);
  assert.ok(pkg.scripts.prepack, "a clean build before packing");
  const entry = await fs.readFile(path.join(repoRoot, pkg.bin.flakebot), "utf8");
  assert.ok(entry.startsWith("#!/usr/bin/env node"), "the bin runs with npx");
});

test("flakebot --help lists the subcommands", async () => {
  const r = await runChecked([process.execPath, path.join(repoRoot, "dist", "src", "index.js"), "--help"], { cwd: repoRoot, env: process.env as Record<string, string> });
  for (const sub of ["serve", "craft", "list", "describe", "run", "dispose", "doctor"]) assert.match(r.stdout, new RegExp(`flakebot ${sub}|flakebot \\[${sub}\\]`));
});
