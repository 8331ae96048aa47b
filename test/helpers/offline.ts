// Offline far ends and a real environment for tests: a CARGO_HOME that resolves crates
// from Debian's packaged sources, a git config, a FLAKEBOT_HOME of the test's own.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runChecked } from "../../src/exec/process.js";

/** The repository root (this file runs from dist/test/helpers). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const fixturesDir = path.join(repoRoot, "test", "fixtures");
export const serverEntry = path.join(repoRoot, "dist", "src", "index.js");
export const DEBIAN_REGISTRY = "/usr/share/cargo/registry";

/**
 * A cargo target directory shared by every test file that builds hexyl 0.8.0 (always from
 * the same source), so its dependencies compile once per machine rather than once per file.
 * Only for builds of one identical crate: cargo puts each binary at target/release/<bin>.
 */
export const HEXYL_TARGET_DIR = path.join(os.tmpdir(), "flakebot-test-target-hexyl-0.8.0");

export async function tempDir(prefix = "flakebot-test-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A CARGO_HOME whose config replaces crates.io with Debian's packaged crate sources. */
export async function offlineCargoHome(dir: string): Promise<string> {
  const home = path.join(dir, "cargo-home");
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(
    path.join(home, "config.toml"),
    [
      "[source.crates-io]",
      'replace-with = "debian"',
      "[source.debian]",
      `directory = "${DEBIAN_REGISTRY}"`,
      "[net]",
      "offline = true",
      "",
    ].join("\n"),
  );
  return home;
}

export interface TestEnv {
  dir: string;
  home: string;
  env: Record<string, string>;
}

/**
 * The environment a test server runs in: its own FLAKEBOT_HOME, the offline cargo home,
 * git identity, and the toolchain's PATH. `extra` overrides anything.
 */
export async function testEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const dir = await tempDir();
  const home = path.join(dir, "flakebot-home");
  const cargoHome = await offlineCargoHome(dir);
  const gitConfig = path.join(dir, "gitconfig");
  await fs.writeFile(gitConfig, "[user]\n\tname = Flakebot Test\n\temail = test@flakebot.invalid\n[init]\n\tdefaultBranch = main\n");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(os.homedir(), ".rustup"),
    CARGO_HOME: cargoHome,
    GIT_CONFIG_GLOBAL: gitConfig,
    GIT_CONFIG_NOSYSTEM: "1",
    FLAKEBOT_HOME: home,
    FLAKEBOT_LLM: "none",
    FLAKEBOT_BACKEND: "cargo",
    FLAKEBOT_SANDBOX: "off",
    FLAKEBOT_CRATES_IO_URL: "http://127.0.0.1:9/unused",
    LANG: "C.UTF-8",
    ...extra,
  };
  return { dir, home, env };
}

/** Copies a fixture crate into a fresh git repository with one commit and a tag. */
export async function fixtureRepo(fixture: string, dest: string, tag?: string, env?: Record<string, string>): Promise<string> {
  await fs.cp(path.join(fixturesDir, "crates", fixture), dest, { recursive: true });
  const git = (args: string[]) => runChecked(["git", ...args], { cwd: dest, env: env ?? (process.env as Record<string, string>) });
  await git(["init", "-q", "-b", "main"]);
  await git(["add", "-A"]);
  await git(["-c", "user.name=Upstream", "-c", "user.email=upstream@example.invalid", "commit", "-q", "-m", "upstream"]);
  if (tag) await git(["tag", tag]);
  return dest;
}
