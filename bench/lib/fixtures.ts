// The crates the benchmarks craft and build: the test fixtures, copied fresh for every
// measurement so no build output is shared, and the floor each craft is compared with.
import fs from "node:fs/promises";
import path from "node:path";
import { runProcess } from "../../src/exec/process.js";
import { fixturesDir } from "../../test/helpers/offline.js";
import type { BenchEnv } from "./env.js";

export type Fixture = "hello" | "clapper" | "kebab" | "matcher";

/** What a craft of each fixture is asked for. */
export const INSTRUCTIONS: Record<Fixture, string> = {
  hello: "print text in upper case",
  clapper: "count the words, lines and characters of a text",
  kebab: "print words in kebab-case",
  matcher: "print the lines of a text that match a regular expression",
};

/** A fresh copy of a fixture crate at `dest` (no target/, no git). */
export async function copyFixture(fixture: Fixture, dest: string): Promise<string> {
  await fs.cp(path.join(fixturesDir, "crates", fixture), dest, { recursive: true });
  return dest;
}

/**
 * A copy of a fixture whose main.rs ends with a comment of its own, so its tree (and its
 * build cache key) is new while it builds and tests exactly like the fixture.
 */
export async function fixtureVariant(fixture: Fixture, dest: string, tag: string): Promise<string> {
  await copyFixture(fixture, dest);
  await fs.appendFile(path.join(dest, "src", "main.rs"), `\n// benchmark variant ${tag}\n`);
  return dest;
}

export interface BareTimes {
  build_ms: number;
  test_ms: number;
  total_ms: number;
}

async function cargo(args: string[], dir: string, env: Record<string, string>): Promise<number> {
  const start = performance.now();
  const r = await runProcess(["cargo", ...args], { cwd: dir, env, timeoutMs: 3_600_000 });
  if (r.exitCode !== 0) throw new Error(`cargo ${args.join(" ")} failed in ${dir}:\n${r.stderr.slice(-2000)}`);
  return performance.now() - start;
}

/** The floor of a craft: bare `cargo build --release` then `cargo test --release` of the tree. */
export async function bareCargo(dir: string, benv: BenchEnv): Promise<BareTimes> {
  const build_ms = await cargo(["build", "--release"], dir, benv.bareEnv);
  const test_ms = await cargo(["test", "--release"], dir, benv.bareEnv);
  return { build_ms, test_ms, total_ms: build_ms + test_ms };
}

/** Builds hello once (bare cargo) and returns its release binary. */
export async function builtHello(benv: BenchEnv): Promise<string> {
  const dir = await copyFixture("hello", path.join(benv.dir, "hello-binary-src"));
  await cargo(["build", "--release"], dir, benv.bareEnv);
  return path.join(dir, "target", "release", "hello-upper");
}
