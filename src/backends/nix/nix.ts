// The Nix backend: turns a crafted tool's repository into a flake (flake.nix, flakebot.json,
// flake.lock and Cargo.lock committed on its branch), builds it with `nix build` into a GC
// root under the tool's state directory, optionally pushes it to a binary cache, and
// removes the root and the store path when the tool is disposed.
import { rootCause } from "../build-failure.js";
import { readRegularFile, writeFileNoFollow } from "../../exec/safe-fs.js";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { BackendContext } from "../backend.js";
import { CraftError } from "../../model/errors.js";
import type { BuildInfo, Craft, TargetInfo } from "../../model/craft.js";
import { cargoMetadata, generateLockfile } from "../cargo/cargo.js";
import {
  CHECK_STATUS,
  DATA_FILE,
  FLAKE_FILE,
  LOCK_FILE,
  flakeData,
  publishedData,
  writeFlakeFiles,
  type CheckMode,
  type FlakeData,
  type PublishedCheck,
} from "./flake-files.js";
import { irreproducibleLock, reviewLock } from "./cargo-lock.js";
import { gitOutputHashes } from "./git-hashes.js";
import { confinedNixArgv, nixConfinement, refusalMessage, type NixConfinement } from "./sandbox.js";
import { flakeToolchainEnv } from "./toolchain.js";
import { nixpkgsLock } from "./nixpkgs-lock.js";
import { testsDoNotCompile, type CheckRun, type TestReader } from "../../model/test-run.js";
import { runProcess } from "../../exec/process.js";
import { toolchainEnv } from "../../exec/env.js";
import {
  INSTALL_HINT,
  failureText,
  nixAvailable,
  nixpkgsIncompatibility,
  nixArgv,
  nixpkgsRefusal,
  outputTail,
  runNix,
} from "./cli.js";
import { runGit, treeHash } from "../../sources/git.js";
import { buildKey, recordBuild } from "../cache.js";
import { inside } from "../../state/paths.js";
import { log } from "../../log.js";
import { DEFAULT_NIXPKGS } from "../../config.js";

export { nixAvailable, nixpkgsIncompatibility, type NixStatus } from "./cli.js";

const MINUTE = 60_000;
const BUILD_TIMEOUT_MS = 120 * MINUTE;
const QUERY_TIMEOUT_MS = 10 * MINUTE;

type LogFn = (line: string) => void;

export interface FlakeOptions {
  /** The tool's git repository (the flake's root). */
  workspace: string;
  target: TargetInfo;
  /** The nixpkgs flake reference to lock (FLAKEBOT_NIXPKGS). */
  nixpkgs: string;
  /** Upstream tests that failed before any change: the check phase skips them. */
  knownFailures?: string[];
  /** How the check phase treats the tests (default "gate"). */
  checkMode?: CheckMode;
  /** FLAKEBOT_NIX_CACHE, offered to users of the flake as a substituter. */
  cache?: string;
  /** Where git dependencies are fetched to compute their hashes (default: the OS temp dir). */
  scratch?: string;
  signal?: AbortSignal;
  log?: LogFn;
}

export interface PreparedFlake {
  workspace: string;
  /** The commit that holds the flake files. */
  commit: string;
  branch?: string;
  /** The flake reference nix builds: exactly that commit of the local repository. */
  ref: string;
  data: FlakeData;
  /** Cargo.lock was missing and was generated (and committed). */
  lockGenerated: boolean;
}

/** The Cargo workspace root of the target (relative to the repository) and the package's place in it. */
async function cargoLayout(workspace: string, target: TargetInfo, signal?: AbortSignal) {
  const repo = await fs.realpath(workspace);
  const crateDir = inside(repo, target.dir || ".");
  const meta = await cargoMetadata({ cwd: crateDir, signal }).catch((err: Error) => {
    throw new CraftError("package", `cannot read the crate's Cargo.toml in ${target.dir || "the repository root"}: ${err.message}`);
  });
  const cargoRoot = await fs.realpath(meta.workspace_root);
  const root = path.relative(repo, cargoRoot);
  if (root.startsWith("..") || path.isAbsolute(root)) {
    throw new CraftError("package", `the crate belongs to a Cargo workspace outside its repository (${cargoRoot}): package it from that workspace's repository`);
  }
  return { cargoRoot, root, subdir: path.relative(cargoRoot, crateDir) };
}

interface Committed {
  commit: string;
  /** The branch checked out, if any. */
  branch?: string;
  /** Changes to tracked files left uncommitted, one "XY path" a line ("" when none). */
  uncommitted: string;
}

/** HEAD, the branch and the uncommitted changes, from one `git status`. */
async function headStatus(workspace: string, signal?: AbortSignal): Promise<Committed> {
  const lines = (await runGit(workspace, ["status", "--porcelain=v2", "--branch", "--untracked-files=no"], { signal })).split("\n").filter(Boolean);
  const header = (name: string) => lines.find((l) => l.startsWith(`# branch.${name} `))?.slice(`# branch.${name} `.length);
  const head = header("head");
  // Entries: "1 XY sub mH mI mW hH hI path", "2 XY sub mH mI mW hH hI Xscore path\torig", "u XY sub m1 m2 m3 mW h1 h2 h3 path".
  const paths = { "1": 8, "2": 9, u: 10 } as Record<string, number>;
  const changes = lines
    .filter((l) => !l.startsWith("#"))
    .map((l) => {
      const fields = l.split(" ");
      return `${fields[1]} ${fields.slice(paths[fields[0]] ?? 1).join(" ")}`;
    });
  return { commit: header("oid") ?? "", branch: head && head !== "(detached)" ? head : undefined, uncommitted: changes.join("\n") };
}

/** Adds `files` (even when .gitignore lists them: the flake sees only tracked files) and commits them. */
async function commitFiles(workspace: string, files: string[], message: string, signal?: AbortSignal): Promise<Committed> {
  if (files.length) await runGit(workspace, ["add", "--force", "--", ...files], { signal });
  const staged = await runGit(workspace, ["diff", "--cached", "--name-only"], { signal });
  if (staged.trim()) await runGit(workspace, ["commit", "--quiet", "--no-verify", "-m", message], { signal });
  return headStatus(workspace, signal);
}

interface LockNode {
  locked?: { type?: string; url?: string };
}

/** Whether flake.lock pins nixpkgs to something only this machine has (a path, a file:// URL). */
export async function locksLocalNixpkgs(workspace: string): Promise<boolean> {
  const lock = JSON.parse(await fs.readFile(path.join(workspace, LOCK_FILE), "utf8")) as { nodes?: Record<string, LockNode> };
  const locked = lock.nodes?.nixpkgs?.locked;
  return locked?.type === "path" || (locked?.url ?? "").startsWith("file:");
}

/**
 * The commit a fork gets, whose flake gates: a "record" flake (an unmodified crate's first
 * build) becomes one that skips the failures it recorded, or runs no tests when they do not
 * compile here (`check`); a flake.lock that pins a local nixpkgs is left out, so that
 * elsewhere nix locks the portable nixpkgs flake.nix names. Else the flake's own commit.
 */
async function portableCommit(flake: PreparedFlake, opts: { check?: PublishedCheck; cache?: string; signal?: AbortSignal }): Promise<string> {
  const { check, signal } = opts;
  const local = await locksLocalNixpkgs(flake.workspace);
  if (!check && !local) return flake.commit;
  const changes: string[] = [];
  if (check) {
    const data = publishedData(flake.data, check);
    await writeFlakeFiles(flake.workspace, data, opts.cache);
    changes.push(data.checkMode === "off" ? `no check phase (${data.checkNote})` : `the check phase gates${"skip" in check && check.skip.length ? `, skipping the upstream failures ${check.skip.join(", ")}` : ""}`);
  }
  if (local) {
    await runGit(flake.workspace, ["rm", "--quiet", "--cached", "--", LOCK_FILE], { signal });
    await fs.rm(path.join(flake.workspace, LOCK_FILE), { force: true });
    changes.push(`flake.lock removed: it pinned a local nixpkgs; nix locks the nixpkgs flake.nix names (${DEFAULT_NIXPKGS})`);
  }
  return (await commitFiles(flake.workspace, check ? [FLAKE_FILE, DATA_FILE] : [], `The flake for the fork: ${changes.join("; ")}`, signal)).commit;
}

/** `git+file://...?rev=...`: the committed tree only, whatever the working tree holds. */
export function localFlakeRef(workspace: string, commit: string): string {
  // shallow=1: clones made with --depth are refused without it.
  return `git+${pathToFileURL(workspace).href}?rev=${commit}&shallow=1`;
}

/**
 * The reference others can run once the branch is pushed to `fork`: `github:owner/repo/<commit>`
 * for GitHub, `git+<url>?ref=<branch>&rev=<commit>` for another git URL.
 */
export function forkFlakeRef(fork: string, commit: string, branch?: string): string | undefined {
  const gh = /^(?:https:\/\/|ssh:\/\/git@|git@)github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(fork);
  if (gh) return `github:${gh[1]}/${gh[2]}/${commit}`;
  if (!/^(https?|ssh|git|file):\/\//.test(fork)) return undefined;
  const ref = branch ? `ref=${encodeURIComponent(branch)}&` : "";
  return `git+${fork}?${ref}rev=${commit}`;
}

/**
 * Makes the repository a flake: generates Cargo.lock when missing, writes flake.nix and
 * flakebot.json, a fresh flake.lock with nixpkgs locked to `opts.nixpkgs`, and commits all four.
 */
export async function prepareFlake(opts: FlakeOptions): Promise<PreparedFlake> {
  const { workspace, target, signal } = opts;
  const say = opts.log ?? (() => {});
  // The lock names nothing of the crate: it is made (or reused) while the crate is read.
  const nixpkgsLocked = nixpkgsLock(opts.nixpkgs, { scratch: opts.scratch, signal, log: say });
  nixpkgsLocked.catch(() => {}); // awaited below; a failure before that must not go unhandled
  const { cargoRoot, root, subdir } = await cargoLayout(workspace, target, signal);
  const cargoLockPath = path.join(cargoRoot, "Cargo.lock");
  const lockGenerated = !existsSync(cargoLockPath);
  if (lockGenerated) {
    say("Cargo.lock is missing: generating it (nix builds from the lock file)");
    await generateLockfile({ cwd: cargoRoot, signal, onLine: say }).catch((err: Error) => {
      throw new CraftError("package", `${err.message}\nThe flake needs a Cargo.lock: add one to the repository.`);
    });
  }
  const cargoLock = await readRegularFile(cargoRoot, "Cargo.lock").catch((err: Error) => {
    throw new CraftError("package", `Cargo.lock cannot be read: ${err.message}`);
  });
  const lockText = cargoLock.toString("utf8");
  const review = reviewLock(lockText);
  if (review.problems.length) throw new CraftError("package", irreproducibleLock(review.problems));
  let outputHashes: Record<string, string> = {};
  if (review.git.length) {
    say(`pinning ${review.git.length} git dependenc${review.git.length === 1 ? "y" : "ies"} by the hash of their tree`);
    outputHashes = await gitOutputHashes(review.git, opts.scratch ?? os.tmpdir(), signal).catch((err: Error) => {
      throw new CraftError("package", err.message);
    });
  }
  const data = flakeData(target, { root, subdir }, lockText, { knownFailures: opts.knownFailures, outputHashes, checkMode: opts.checkMode });
  await writeFlakeFiles(workspace, data, opts.cache);
  // Replaces any lock from upstream's own flake, which would keep inputs and pins that are not ours.
  await writeFileNoFollow(workspace, LOCK_FILE, await nixpkgsLocked);
  const cargoLockRel = path.join(root, "Cargo.lock");
  const { commit, branch, uncommitted } = await commitFiles(
    workspace,
    [FLAKE_FILE, DATA_FILE, LOCK_FILE, cargoLockRel],
    "Package with Nix: flake.nix, flakebot.json, flake.lock (generated by Flakebot)",
    signal,
  );
  if (uncommitted) {
    const warning = `uncommitted changes are not part of the Nix build (it builds commit ${commit}):\n${uncommitted}`;
    say(warning);
    log.warn(warning);
  }
  return { workspace, commit, branch, ref: localFlakeRef(workspace, commit), data, lockGenerated };
}

export interface NixBuildOptions {
  /** The out-link that keeps the build alive (ToolPaths.gcroot). */
  gcroot: string;
  /** BuildInfo.key; defaults to the tree hash of the flake's commit. */
  key?: string;
  /** How the crate's code is confined (nixConfinement); default: Nix's sandbox is trusted. */
  confinement?: NixConfinement;
  /** Directories a bwrap around nix hides (FLAKEBOT_HOME). */
  hide?: string[];
  /** Reads the check phase's test run from the build log; without it no tests are counted. */
  readTests?: TestReader;
  signal?: AbortSignal;
  log?: LogFn;
  progress?: (message: string) => void;
  timeoutMs?: number;
}

/** A build that failed in its check phase: the crate's own tests failed under Nix. */
export class ChecksFailed extends CraftError {
  constructor(
    readonly run: CheckRun,
    output: string,
  ) {
    const what = run.failures.length ? `${run.failures.length} test(s) failed: ${run.failures.join(", ")}` : "the tests did not compile or run";
    super("test", `the crate's tests failed in the Nix build's check phase: ${what}\n${output}`);
    this.name = "ChecksFailed";
  }
}

function buildFailure(text: string, flake: PreparedFlake): string {
  const refusal = nixpkgsRefusal(text);
  if (refusal) return refusal;
  const cause = rootCause([], text).text.replace(/[\s:.]+$/, "");
  return (
    `nix build of ${flake.ref} failed: ${cause}. ` +
    `Fix what the log shows (the same code must pass \`cargo build --release --locked\`), or set FLAKEBOT_BACKEND=cargo to build without Nix; the full log is in the tool's build log.\n\n${text}`
  );
}

interface BuildJson {
  drvPath: string;
  outputs: Record<string, string>;
}

/** Throttles progress reports to one a second, with the build's latest compile step. */
function progressFromLog(progress?: (m: string) => void): LogFn {
  let last = 0;
  return (line) => {
    if (!progress || !/\b(Compiling|Running|building ')/.test(line)) return;
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    progress(`nix build: ${line.slice(0, 160)}`);
  };
}

/**
 * What nix says when it builds or fetches a store path (at its default verbosity). With
 * neither, nor any builder output, the flake's output was already in the store: one `nix
 * build` tells what a `nix path-info` before it would (and evaluates the flake once, not twice).
 */
const BUILD_WORK = /^(?:building|copying path) '\/|^these \d+ (?:derivations|paths) will be/;
/** `--print-build-logs` prefixes each line of a builder's output with "<name>> ". */
const LOG_PREFIX = /^[\w.+-]+> ?/;
/** The builder's output kept for reading the test run (libtest's lines are short). */
const TEST_LOG_CHARS = 16 * 1024 * 1024;

/** Nix gives builders a terminal, so libtest colours its verdicts: drop the escape codes. */
function stripTerminal(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b(?:\[[0-9;?]*[A-Za-z]|\([A-Z0-9])/g, "");
}

export interface FlakeBuild {
  build: BuildInfo;
  /** The check phase's test run, read from the build log (undefined when the build was reused). */
  tests?: CheckRun;
  /** How a "record" check phase ended: its exit status and, when it failed, the first error it printed. */
  checkExit?: { status: number; cause?: string };
}

const STATUS_LINE = new RegExp(`^${CHECK_STATUS} (\\d+)[ \\t\\r]*$`, "gm");

/** The status line a "record" check phase ends with (the last one: tests print before it). */
function recordedExit(checkLog: string): FlakeBuild["checkExit"] {
  const line = [...checkLog.matchAll(STATUS_LINE)].pop();
  if (!line) return undefined;
  const status = Number(line[1]);
  if (status === 0) return { status };
  // The first error as rustc prints it, the way the cargo backend quotes it.
  const output = checkLog.slice(0, line.index);
  const error = output.split("\n").map((l) => l.trim()).find((l) => /^error(\[E\d+\])?:/.test(l));
  return { status, cause: error ?? rootCause([], output).text };
}

/**
 * `nix build <ref>#default` into the GC root, the crate's tests running in its check phase;
 * the binary runs from the store path. A failing check phase throws ChecksFailed.
 */
export async function buildFlake(flake: PreparedFlake, opts: NixBuildOptions): Promise<FlakeBuild> {
  const installable = `${flake.ref}#default`;
  const cwd = flake.workspace;
  await fs.mkdir(path.dirname(opts.gcroot), { recursive: true });
  const say = opts.log ?? (() => {});
  const report = progressFromLog(opts.progress);
  const confined = opts.confinement?.kind === "bwrap";
  // Under bwrap the GC root is made afterwards, outside: the tool's directory stays read-only to the build.
  let argv = nixArgv(["build", installable, ...(confined ? ["--no-link"] : ["--out-link", opts.gcroot]), "--json", "--print-build-logs"]);
  let env = toolchainEnv();
  if (confined) {
    argv = confinedNixArgv(argv, { workspace: cwd, hide: opts.hide ?? [] });
    // The home directory is hidden: Nix keeps its caches on the sandbox's own /tmp.
    env = { ...env, XDG_CACHE_HOME: "/tmp/nix-cache", HOME: "/tmp" };
  }
  const builderLog: string[] = [];
  let kept = 0;
  // Whether nix built or fetched anything: else the output was already in the store.
  let worked = false;
  const r = await runProcess(argv, {
    kind: "nix",
    cwd,
    env,
    timeoutMs: opts.timeoutMs ?? BUILD_TIMEOUT_MS,
    signal: opts.signal,
    maxOutputBytes: 8 * 1024 * 1024,
    onLine: (line, stream) => {
      if (stream !== "stderr") return;
      say(line);
      if (LOG_PREFIX.test(line) || BUILD_WORK.test(line)) worked = true;
      const text = stripTerminal(line.replace(LOG_PREFIX, ""));
      report(text);
      if (kept < TEST_LOG_CHARS && LOG_PREFIX.test(line)) {
        builderLog.push(text);
        kept += text.length;
      }
    },
  });
  if (r.aborted) throw new CraftError("package", "the nix build was cancelled");
  if (r.timedOut) throw new CraftError("package", `the nix build timed out after ${Math.round((opts.timeoutMs ?? BUILD_TIMEOUT_MS) / MINUTE)} minutes`);
  const log = builderLog.join("\n");
  const cached = !worked;
  const checkLog = log.slice(Math.max(0, log.lastIndexOf("Executing cargoCheckHook")));
  const tests = cached || !opts.readTests ? undefined : opts.readTests(checkLog);
  if (r.exitCode !== 0) {
    // The check phase failed: tests failed, or it ended before any test binary reported.
    const checking = log.includes("Executing cargoCheckHook") && !log.includes("Executing cargoInstallHook");
    if (checking && tests && (tests.failed > 0 || tests.suites === 0)) throw new ChecksFailed(tests, outputTail(r, 40));
    throw new CraftError("package", buildFailure(outputTail(r, 40), flake));
  }
  if (tests?.problem) throw new CraftError("test", `the Nix build's check phase: ${tests.problem}`);

  let storePath: string | undefined;
  try {
    storePath = (JSON.parse(r.stdout) as BuildJson[])[0]?.outputs.out;
  } catch {
    // reported below
  }
  if (!storePath) throw new CraftError("package", `nix build succeeded but did not report its output path: ${r.stdout.slice(0, 500)}`);
  if (confined) await addGcRoot(storePath, opts.gcroot, opts.signal);
  const binary = path.join(storePath, "bin", flake.data.bin);
  try {
    await fs.access(binary, fs.constants.X_OK);
  } catch {
    const built = await fs.readdir(path.join(storePath, "bin")).catch(() => [] as string[]);
    throw new CraftError(
      "package",
      `the nix build has no bin/${flake.data.bin} (it installed: ${built.join(", ") || "nothing"}): name the binary target with "bin"`,
    );
  }
  const build: BuildInfo = {
    backend: "nix",
    reproducible: true,
    flake_ref: flake.ref,
    store_path: storePath,
    binary,
    duration_ms: r.durationMs,
    cached,
    key: opts.key ?? `nix-${await treeHash(flake.workspace)}`,
  };
  const checkExit = flake.data.checkMode === "record" && !cached ? recordedExit(checkLog) : undefined;
  return { build, tests, ...(checkExit ? { checkExit } : {}) };
}

/** `nix copy --to <cache> <path>` (FLAKEBOT_NIX_CACHE): true when it worked; a failure is logged. */
export async function pushToCache(storePath: string, cache: string, opts: { signal?: AbortSignal; log?: LogFn } = {}): Promise<boolean> {
  const r = await runNix(["copy", "--to", cache, storePath], { cwd: process.cwd(), timeoutMs: BUILD_TIMEOUT_MS, signal: opts.signal, onLine: opts.log });
  if (r.exitCode === 0) {
    opts.log?.(`pushed ${storePath} to the binary cache ${cache}`);
    return true;
  }
  const why = `could not push ${storePath} to the binary cache ${cache} (the tool still works locally): ${failureText(r, 5)}`;
  opts.log?.(why);
  log.warn(why);
  return false;
}

const STORE_PATH = /^\/.+\/[0-9a-df-np-sv-z]{32}-[^/]+$/;

/**
 * Removes the tool's GC root, then deletes its store path unless something else still
 * uses it (another tool's root, a running process). Returns what was removed.
 */
export async function disposeNix(gcroot: string, storePath?: string): Promise<string[]> {
  const removed: string[] = [];
  let target = storePath;
  const stat = await fs.lstat(gcroot).catch(() => undefined);
  if (stat?.isSymbolicLink()) {
    target ??= await fs.readlink(gcroot);
    await fs.rm(gcroot, { force: true });
    removed.push(gcroot);
  }
  if (!target || !STORE_PATH.test(target) || !existsSync(target)) return removed;
  const r = await runNix(["store", "delete", target], { cwd: process.cwd(), timeoutMs: QUERY_TIMEOUT_MS });
  if (r.exitCode === 0 && !existsSync(target)) removed.push(target);
  else if (/still alive/.test(r.stderr)) log.debug(`kept ${target}: something else still uses it`);
  else log.warn(`could not delete ${target} from the Nix store: ${failureText(r, 5)}`);
  return removed;
}

/** Upstream tests that failed before any change (the gate's baseline), when it ran. */
function knownFailures(craft: Craft): string[] {
  return craft.tests?.known_failures ?? [];
}

/** What a "record" check phase found, and how the flake published to a fork checks instead. */
interface Recorded {
  /** Known failures: the failing tests by gate id, or why the tests could not run here. */
  known: string[];
  fork: PublishedCheck;
}

/**
 * The verdicts of a "record" check phase (an unmodified crate's own baseline): failing tests
 * are known failures, reported and not counted; a test build that does not compile here is
 * one known failure, as with the cargo backend. Undefined when the build was reused.
 */
function recordedVerdicts(built: FlakeBuild, say: LogFn): Recorded | undefined {
  const run = built.tests;
  if (!run) {
    if (built.build.cached) say("the store path was reused: no test ran, so there are no verdicts to record");
    return undefined;
  }
  if (!built.checkExit) throw new CraftError("test", "the Nix build's check phase (record mode) ended without printing its exit status: the build log is incomplete");
  const { status, cause = "" } = built.checkExit;
  if (run.failures.length) {
    say(`upstream tests that fail before any change (known failures, not counted): ${run.failures.join(", ")}`);
    return { known: run.failures, fork: { skip: run.failures } };
  }
  if (status === 0) return { known: [], fork: { skip: [] } };
  const why = run.suites === 0 ? testsDoNotCompile(cause) : `the crate's tests ended with exit status ${status} here without naming a failing test (${cause.slice(0, 200)})`;
  say(`the check phase: ${why} (a known failure, not counted):\n${cause}`);
  return { known: [why], fork: { off: why } };
}

/**
 * The Nix backend's package stage: flake, one nix build that compiles and tests the crate
 * with the flake's toolchain, optional binary cache push, and the build recorded in the
 * build cache under the craft's key. A crate the modify loop changed (or tested) is held to
 * its baseline: known failures skipped, any other failure fails the build. An unmodified
 * crate has no baseline yet: its check phase records the whole suite and never fails the
 * build, and its failures become known failures, from that one build.
 */
export async function nixPackage(ctx: BackendContext, craft: Craft): Promise<Partial<Craft>> {
  const target = craft.target;
  if (!target) throw new Error("package stage reached without a target (a bug: acquire sets it)");
  const nix = await nixAvailable(ctx.signal);
  if (!nix.available) throw new CraftError("package", nix.reason ?? `nix is not usable: ${INSTALL_HINT}`);
  const incompatible = nixpkgsIncompatibility(nix.version!, ctx.config.nixpkgs);
  if (incompatible) throw new CraftError("package", incompatible);
  const confinement = await nixConfinement(ctx.config.sandbox === "off" ? "off" : !!ctx.sandboxed, ctx.signal);
  if (confinement.kind === "refused") throw new CraftError("package", refusalMessage(confinement));
  if (confinement.kind === "none") ctx.log("FLAKEBOT_SANDBOX=off and the Nix sandbox is off: the crate's build scripts and tests run unconfined");

  // The key of the tree as the build stage saw it, before the flake files are committed.
  const key = craft.build?.key ?? buildKey(await treeHash(ctx.paths.workspace), target, "nix");
  const record = !craft.modify && !craft.test_baseline;
  ctx.progress("writing flake.nix and locking nixpkgs");
  const flake = await prepareFlake({
    workspace: ctx.paths.workspace,
    target,
    nixpkgs: ctx.config.nixpkgs,
    knownFailures: record ? [] : knownFailures(craft),
    checkMode: record ? "record" : "gate",
    cache: ctx.config.nixCache,
    scratch: ctx.paths.scratch,
    signal: ctx.signal,
    log: ctx.log,
  });
  ctx.log(`flake committed as ${flake.commit}${flake.lockGenerated ? " (with a generated Cargo.lock)" : ""}${record ? "; no baseline yet: the check phase records the whole test suite" : ""}`);
  ctx.progress(`nix build ${flake.ref}#default (compiles and runs the tests)`);
  const built = await buildFlake(flake, {
    gcroot: ctx.paths.gcroot,
    key,
    confinement,
    hide: [ctx.config.home],
    readTests: ctx.readTests,
    signal: ctx.signal,
    log: ctx.log,
    progress: ctx.progress,
  });
  const recorded = record ? recordedVerdicts(built, ctx.log) : undefined;
  const known = recorded?.known ?? (record ? [] : knownFailures(craft));
  let build = built.build;
  if (build.cached) ctx.log(`${build.store_path} was already in the Nix store: reused`);
  if (ctx.config.nixCache) await pushToCache(build.store_path!, ctx.config.nixCache, { signal: ctx.signal, log: ctx.log });
  if (craft.source?.fork) {
    // A recorded flake is never published: without verdicts (a reused store path), the fork's gates with no skips.
    const check = record ? (recorded?.fork ?? { skip: [] }) : undefined;
    const commit = await portableCommit(flake, { check, cache: ctx.config.nixCache, signal: ctx.signal });
    const shared = forkFlakeRef(craft.source.fork, commit, flake.branch);
    if (shared) build = { ...build, flake_ref: shared };
  }
  const run = built.tests;
  const tests = {
    acceptance_passed: 0,
    acceptance_failed: 0,
    ...craft.tests,
    ...(run ? { passed: run.passed, failed: 0 } : { passed: craft.tests?.passed ?? 0, failed: 0 }),
    ...(known.length ? { known_failures: known } : {}),
  };
  await recordBuild(ctx.config.home, key, { build, tests });
  return { build, tests };
}

/** The flake's toolchain for cargo (the modify loop): its dev shell's PATH before the host's. */
export async function nixToolchain(ctx: BackendContext, target: TargetInfo): Promise<Record<string, string>> {
  const { cargoRoot } = await cargoLayout(ctx.paths.workspace, target, ctx.signal);
  ctx.progress("getting the flake's toolchain (nix print-dev-env)");
  const env = await flakeToolchainEnv({ cargoRoot, target, nixpkgs: ctx.config.nixpkgs, dir: path.join(ctx.paths.dir, "toolchain-flake"), signal: ctx.signal });
  ctx.log(`cargo runs with the flake's toolchain: PATH=${env.PATH}`);
  return env;
}

/**
 * Gives a tool its own GC root on a store path another craft built (a cache hit), so
 * disposing either tool never deletes what the other still runs.
 */
export async function addGcRoot(storePath: string, gcroot: string, signal?: AbortSignal): Promise<void> {
  if (!STORE_PATH.test(storePath)) throw new Error(`not a store path: ${storePath}`);
  const r = await runNix(["build", "--out-link", gcroot, storePath], { cwd: process.cwd(), timeoutMs: QUERY_TIMEOUT_MS, signal });
  if (r.exitCode !== 0) throw new Error(`could not add a GC root for ${storePath}: ${failureText(r, 5)}`);
}
