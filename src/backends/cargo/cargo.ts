// cargo: reading a package's metadata, building, testing, and turning cargo's JSON
// messages into diagnostics a person or an LLM can act on.
import path from "node:path";
import { existsSync } from "node:fs";
import { runProcess, type RunResult } from "../../exec/process.js";
import os from "node:os";
import { toolchainEnv } from "../../exec/env.js";
import { cargoEnv, cargoPlaces, resolverDirs } from "../../exec/cargo-policy.js";
import { readRegularFile, UnsafePathError } from "../../exec/safe-fs.js";
import { sandboxBuildArgv } from "../../exec/sandbox.js";
import type { TargetInfo } from "../../model/craft.js";
import { loadConfig } from "../../config.js";
import { toolOfWorkspace } from "../../state/paths.js";

export interface CargoRun {
  /** The workspace root (the repository). */
  cwd: string;
  /**
   * Run cargo under bubblewrap: build and test (build.rs, proc macros, tests) with no network
   * and --offline; dependencies are fetched first, in a sandbox with the network.
   */
  sandbox?: boolean;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
  timeoutMs?: number;
  /** Added to cargo's environment: the flake's toolchain (PATH), the shared compiler cache. */
  env?: Record<string, string>;
  /** Directories a sandboxed build may write besides the workspace (the compiler cache). */
  writable?: string[];
}

export interface Diagnostic {
  level: string;
  message: string;
  file?: string;
  line?: number;
  rendered: string;
}

export interface BuildOutcome {
  ok: boolean;
  /** Absolute path of the built binary when ok. */
  executable?: string;
  diagnostics: Diagnostic[];
  /** The tail of cargo's own output, for errors that are not compiler messages. */
  output: string;
  lockRegenerated?: string;
}

/** What `cargo test` printed, target by target (the change gate reads it: guard/test-report.ts). */
export interface TestOutcome {
  /** Every test target compiled. */
  compiled: boolean;
  /** Compile errors in the tests themselves. */
  diagnostics: Diagnostic[];
  /** Each test target's run: its label (see TestSelection) and libtest's output. */
  targets: TargetOutput[];
  /** The tail of cargo's output, for a person. */
  output: string;
}

export interface TargetOutput {
  label: string;
  stdout: string;
  exitCode: number | null;
  /** This run was asked to run only these tests (libtest names, `--exact`)... */
  only?: string[];
  /** ...or every test but these (`--exact --skip`). */
  skip?: string[];
}

export interface MetaTarget {
  name: string;
  kind: string[];
  "required-features"?: string[];
  src_path?: string;
  /** Whether `cargo test` runs it (Cargo.toml's `test`), and its doc tests (`doctest`). */
  test?: boolean;
  doctest?: boolean;
}
export interface MetaDependency {
  name: string;
  /** "registry+...", "git+...", or null for a path dependency. */
  source?: string | null;
  path?: string;
}
export interface MetaPackage {
  name: string;
  version: string;
  manifest_path: string;
  targets: MetaTarget[];
  description?: string | null;
  features?: Record<string, string[]>;
  dependencies?: MetaDependency[];
}
export interface Metadata {
  packages: MetaPackage[];
  workspace_root: string;
  workspace_members: string[];
}

const HOUR = 3_600_000;

/**
 * Runs cargo on the crate at `run.cwd` the way cargo-policy.ts says (from an empty directory
 * with --manifest-path, Flakebot's CARGO_HOME, the host's toolchain). Sandboxed, it has no
 * network unless `network` (fetching dependencies, which runs no crate code).
 */
async function cargo(args: string[], run: CargoRun, opts: { network?: boolean } = {}): Promise<RunResult> {
  // FLAKEBOT_HOME as the server has it: its cargo-home lives there, and a craft's cargo runs
  // in its tool's own empty directory (found there by crash recovery, sandboxed or not).
  const home = loadConfig(process.env).home;
  const crateDir = path.resolve(run.cwd);
  const places = await cargoPlaces(home, toolOfWorkspace(home, crateDir)?.cargoCwd);
  const env = await cargoEnv(places, { CARGO_TERM_COLOR: "never", CARGO_TERM_PROGRESS_WHEN: "never", ...run.env });
  if (env.CARGO_TARGET_DIR) env.CARGO_TARGET_DIR = path.resolve(crateDir, env.CARGO_TARGET_DIR);
  const offline = run.sandbox && !opts.network && !args.includes("--offline") ? ["--offline"] : [];
  const cargoArgv = ["cargo", args[0], "--manifest-path", path.join(crateDir, "Cargo.toml"), ...offline, ...args.slice(1)];
  const argv = run.sandbox
    ? sandboxBuildArgv(cargoArgv, {
        workspace: crateDir,
        cargoHome: places.cargoHome,
        targetDir: env.CARGO_TARGET_DIR,
        cwd: places.cwd,
        hide: [places.stateHome],
        network: opts.network ? "host" : "none",
        readOnly: opts.network ? resolverDirs() : [],
        writable: run.writable,
      })
    : cargoArgv;
  return runProcess(argv, {
    kind: "cargo",
    // cargo, inside the sandbox or not, starts in the empty directory; bwrap itself in the crate.
    cwd: run.sandbox ? crateDir : places.cwd,
    env,
    signal: run.signal,
    timeoutMs: run.timeoutMs ?? HOUR,
    maxOutputBytes: 8 * 1024 * 1024,
    onLine: run.onLine && ((line) => run.onLine!(line)),
  });
}

/**
 * The content of a binary cargo built, read only when it is a regular file reached without
 * a link from the workspace (or from the operator's CARGO_TARGET_DIR when it is outside).
 */
export async function readBuildOutput(binary: string, workspace: string): Promise<Buffer> {
  const ws = path.resolve(workspace);
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ws, process.env.CARGO_TARGET_DIR) : undefined;
  const inDir = (dir: string) => binary.startsWith(dir + path.sep);
  const root = inDir(ws) ? ws : targetDir && inDir(targetDir) ? targetDir : undefined;
  if (!root) throw new UnsafePathError(`${binary} is outside the workspace and its target directory`);
  return readRegularFile(root, path.relative(root, binary), 2 ** 31 - 1);
}

function tail(text: string, lines = 40): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

function failureText(r: RunResult): string {
  if (r.aborted) return "cancelled";
  if (r.timedOut) return "timed out";
  const text = r.stderr || r.stdout;
  const end = tail(text);
  // The first error is the root cause; the tail may have cut it off (a build script's output).
  const first = text.split("\n").find((l) => /^error(\[E\d+\])?:/.test(l));
  return first && !end.includes(first) ? `${first}\n[...]\n${end}` : end;
}

/** `cargo --version` ("cargo 1.95.0 (...)"), or undefined when cargo does not run. */
export async function cargoVersion(signal?: AbortSignal, env: Record<string, string> = toolchainEnv()): Promise<string | undefined> {
  const r = await runProcess(["cargo", "--version"], { kind: "probe", cwd: os.tmpdir(), env, signal, timeoutMs: 15_000, maxOutputBytes: 64 * 1024 });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** `cargo metadata --no-deps`: the packages and targets of the workspace at `dir`. */
export async function cargoMetadata(run: CargoRun): Promise<Metadata> {
  const r = await cargo(["metadata", "--format-version", "1", "--no-deps", "--offline"], run);
  if (r.exitCode !== 0) {
    throw new Error(`cargo metadata failed: ${failureText(r)}`);
  }
  return JSON.parse(r.stdout) as Metadata;
}

export interface TargetChoice {
  package?: string;
  bin?: string;
  /** Features asked for (craft_tool's `features`). */
  features?: string[];
}

/**
 * Picks the package and binary to expose. Throws an Error whose message lists the choices
 * when there is none or more than one and the caller did not say which.
 */
export function selectTarget(meta: Metadata, root: string, choice: TargetChoice, hasLockfile: boolean): TargetInfo {
  // With --no-deps, the packages are exactly the workspace's members.
  const pool = meta.packages;
  const bins = (p: MetaPackage) => p.targets.filter((t) => t.kind.includes("bin")).map((t) => t.name);
  let candidates = pool.filter((p) => bins(p).length > 0);
  if (choice.package) {
    candidates = pool.filter((p) => p.name === choice.package);
    if (candidates.length === 0) {
      throw new Error(`no package "${choice.package}" in this workspace; its packages: ${pool.map((p) => p.name).join(", ")}`);
    }
  }
  if (choice.bin) candidates = candidates.filter((p) => bins(p).includes(choice.bin!));
  const all = candidates.flatMap((p) => bins(p).filter((b) => !choice.bin || b === choice.bin).map((b) => `${p.name}/${b}`));
  if (all.length === 0) {
    const known = pool.flatMap((p) => bins(p).map((b) => `${p.name}/${b}`));
    throw new Error(
      choice.bin
        ? `no binary target "${choice.bin}"${choice.package ? ` in package ${choice.package}` : ""}; binaries here: ${known.join(", ") || "none"}`
        : `this project has no binary target (a library only?); Flakebot needs a crate with a [[bin]] or src/main.rs`,
    );
  }
  if (all.length > 1) {
    throw new Error(`this project has several binaries: ${all.join(", ")}; say which with "bin" (and "package" in a workspace)`);
  }
  const pkg = candidates[0];
  const bin = choice.bin ?? bins(pkg)[0];
  const dir = path.relative(root, path.dirname(pkg.manifest_path));
  const features = targetFeatures(pkg, bin, choice.features ?? []);
  return {
    ...(pkg.description?.trim() ? { description: pkg.description.trim() } : {}),
    ...(features.length > 0 ? { features } : {}),
    package: pkg.name,
    version: pkg.version,
    bin,
    dir: dir === "" ? "" : dir.split(path.sep).join("/"),
    in_workspace: meta.packages.length > 1 || dir !== "",
    has_lockfile: hasLockfile,
  };
}

/**
 * The features to build with: those asked for, then the binary's required-features (without
 * them cargo skips the binary). A feature the package does not have is refused with its list.
 */
export function targetFeatures(pkg: MetaPackage, bin: string, asked: string[]): string[] {
  const known = Object.keys(pkg.features ?? {});
  const unknown = asked.filter((f) => !known.includes(f) && !f.includes("/") && !f.startsWith("dep:"));
  if (unknown.length > 0) {
    throw new Error(`${pkg.name} has no feature${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; its features: ${known.join(", ") || "none"}`);
  }
  const required = pkg.targets.find((t) => t.name === bin && t.kind.includes("bin"))?.["required-features"] ?? [];
  return [...new Set([...asked, ...required])];
}

function featureArgs(target: TargetInfo): string[] {
  return target.features?.length ? ["--features", target.features.join(",")] : [];
}

export function hasLockfile(root: string): boolean {
  return existsSync(path.join(root, "Cargo.lock"));
}

interface CargoMessage {
  reason: string;
  message?: { level: string; message: string; rendered?: string; spans?: { file_name: string; line_start: number; is_primary: boolean }[] };
  executable?: string | null;
  target?: { name: string; kind: string[] };
}

function parseMessages(stdout: string): { diagnostics: Diagnostic[]; executables: Map<string, string> } {
  const diagnostics: Diagnostic[] = [];
  const executables = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    let msg: CargoMessage;
    try {
      msg = JSON.parse(line) as CargoMessage;
    } catch {
      continue;
    }
    if (msg.reason === "compiler-message" && msg.message && (msg.message.level === "error" || msg.message.level === "warning")) {
      const span = msg.message.spans?.find((s) => s.is_primary);
      diagnostics.push({
        level: msg.message.level,
        message: msg.message.message,
        file: span?.file_name,
        line: span?.line_start,
        rendered: msg.message.rendered ?? msg.message.message,
      });
    }
    if (msg.reason === "compiler-artifact" && msg.executable && msg.target?.kind.includes("bin")) {
      executables.set(msg.target.name, msg.executable);
    }
  }
  return { diagnostics, executables };
}

const LOCK_TROUBLE = /lock file|Cargo\.lock|checksum for|failed to select a version|needs to be updated/i;

/** Writes a fresh Cargo.lock from the configured sources (offline first). */
export async function generateLockfile(run: CargoRun): Promise<void> {
  const offline = await cargo(["generate-lockfile", "--offline"], run);
  if (offline.exitCode === 0) return;
  const online = await cargo(["generate-lockfile"], run, { network: true });
  if (online.exitCode !== 0) throw new Error(`cargo generate-lockfile failed: ${failureText(online)}`);
}

/**
 * Before a sandboxed build: make sure there is a lock file and that every dependency is
 * downloaded, in a sandbox that has the network and nothing else of the host.
 */
async function fetchDependencies(run: CargoRun): Promise<void> {
  const fetch = (locked: boolean) => cargo(locked ? ["fetch", "--locked"] : ["fetch"], run, { network: true });
  let r = await fetch(hasLockfile(run.cwd));
  if (r.exitCode !== 0 && !r.aborted && !r.timedOut && hasLockfile(run.cwd) && LOCK_TROUBLE.test(r.stderr)) {
    run.onLine?.(`Cargo.lock cannot be used as it is (${tail(r.stderr, 3)}); regenerating it`);
    await generateLockfile(run);
    r = await fetch(true);
  }
  if (r.exitCode !== 0) throw new Error(`cargo fetch failed: ${failureText(r)}`);
}

function selectArgs(target: TargetInfo): string[] {
  return ["--package", target.package, ...featureArgs(target)];
}

/**
 * `cargo build --release` of the target's binary, with `--locked` when the project has a
 * Cargo.lock. When the lock file cannot be used as it is (versions or checksums the
 * configured registry does not have), it is regenerated once and the outcome says why.
 */
export async function cargoBuild(target: TargetInfo, run: CargoRun): Promise<BuildOutcome> {
  const args = ["build", "--release", "--message-format=json-diagnostic-rendered-ansi", ...selectArgs(target), "--bin", target.bin];
  const attempt = async (locked: boolean) => cargo(locked ? [...args, "--locked"] : args, run);
  if (run.sandbox) {
    try {
      await fetchDependencies(run);
    } catch (err) {
      return { ok: false, diagnostics: [], output: (err as Error).message };
    }
  }
  let r = await attempt(target.has_lockfile && hasLockfile(run.cwd));
  let lockRegenerated: string | undefined;
  if (r.exitCode !== 0 && target.has_lockfile && !r.aborted && !r.timedOut && LOCK_TROUBLE.test(r.stderr)) {
    lockRegenerated = tail(r.stderr, 3);
    run.onLine?.(`Cargo.lock cannot be used as it is (${lockRegenerated}); regenerating it`);
    await generateLockfile(run);
    r = await attempt(true);
  }
  const { diagnostics, executables } = parseMessages(r.stdout);
  const executable = executables.get(target.bin);
  return {
    ok: r.exitCode === 0 && !!executable,
    executable,
    diagnostics: diagnostics.map((d) => ({ ...d, rendered: stripAnsi(d.rendered) })),
    output: failureText(r),
    lockRegenerated,
  };
}

/** One test target of the package, as `cargo test` selects it and as the gate names it. */
export interface TestSelection {
  /** The target's source path from the workspace root ("src/lib.rs", "tests/cli.rs"), or "doc-tests". */
  label: string;
  args: string[];
  /** Cargo.toml's name for its kind ("lib", "bin", "test", "bench", "example"; "doc" for doc tests) and its name. */
  kind: string;
  name: string;
}

/**
 * The upstream tests of a target to run in a process of their own, apart from the rest
 * (see cargoTest), or undefined to run the target whole.
 */
export type UpstreamSplit = (selection: TestSelection) => string[] | undefined;

// Past this, the names would not fit on a command line: the target runs whole.
const MAX_FILTER_BYTES = 512 * 1024;

/**
 * The targets `cargo test` runs for the package: those Cargo.toml leaves with `test = true`
 * (and the library's doc tests). A target dropped from the manifest, or set `test = false`,
 * is not among them, so its tests are missing from the run.
 */
export function testSelections(pkg: MetaPackage, root: string): TestSelection[] {
  const out: TestSelection[] = [];
  for (const t of pkg.targets) {
    if (!t.test) continue;
    const label = t.src_path ? path.relative(root, t.src_path).split(path.sep).join("/") : t.name;
    const kind = t.kind.some((k) => LIB_KINDS.has(k)) ? "lib" : ["bin", "test", "bench", "example"].find((k) => t.kind.includes(k));
    if (kind) out.push({ label, args: kind === "lib" ? ["--lib"] : [`--${kind}`, t.name], kind, name: t.name });
  }
  const lib = pkg.targets.find((t) => t.doctest && t.kind.some((k) => LIB_KINDS.has(k)));
  if (lib) out.push({ label: "doc-tests", args: ["--doc"], kind: "doc", name: lib.name });
  return out;
}

const LIB_KINDS = new Set(["lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro"]);

/** The processes of one test target: the whole target, or its upstream tests and then the rest. */
function targetRuns(selection: TestSelection, upstream: string[]): { selection: TestSelection; libtest: string[]; only?: string[]; skip?: string[] }[] {
  if (upstream.length === 0 || Buffer.byteLength(upstream.join("")) >= MAX_FILTER_BYTES) return [{ selection, libtest: [] }];
  return [
    { selection, libtest: ["--exact", ...upstream], only: upstream },
    { selection, libtest: ["--exact", ...upstream.flatMap((n) => ["--skip", n])], skip: upstream },
  ];
}

/**
 * `cargo test --release` of the package (release shares the build's compiled deps): every
 * test target compiled at once, then run one `cargo test` per target, so each result is
 * known to come from its target (cargo names targets on stderr and libtest reports on
 * stdout, and two pipes do not keep their order).
 *
 * With `upstream`, a target's upstream tests run in a process of their own (`--exact` and
 * their names) and the other tests in another (`--exact --skip` each name). A test can
 * print anything, a whole libtest block included, and end its process before libtest
 * speaks; but split so, no code of a new test runs in the process that reports the
 * upstream tests, and a report of an upstream test from the other process is forged.
 */
export async function cargoTest(target: TargetInfo, run: CargoRun, upstream?: UpstreamSplit): Promise<TestOutcome> {
  const args = ["test", "--release", "--no-fail-fast", ...selectArgs(target)];
  const locked = hasLockfile(run.cwd) && (target.has_lockfile || run.sandbox) ? ["--locked"] : [];
  const compiled = await cargo([...args, "--no-run", ...locked], run);
  if (compiled.exitCode !== 0) {
    const diagnostics = compiled.stderr
      .split("\n")
      .filter((l) => l.startsWith("error"))
      .map((l) => ({ level: "error", message: l, rendered: l }));
    return { compiled: false, diagnostics, targets: [], output: failureText(compiled) };
  }
  const pkg = (await cargoMetadata(run)).packages.find((p) => p.name === target.package);
  const runs = (pkg ? testSelections(pkg, run.cwd) : []).flatMap((selection) => targetRuns(selection, upstream?.(selection) ?? []));
  const targets: TargetOutput[] = [];
  for (const { selection, libtest, only, skip } of runs) {
    const r = await cargo([...args, ...selection.args, ...locked, ...(libtest.length ? ["--", ...libtest] : [])], run);
    targets.push({ label: selection.label, stdout: r.stdout, exitCode: r.exitCode, ...(only ? { only } : {}), ...(skip ? { skip } : {}) });
    if (r.aborted || r.timedOut) break;
  }
  return { compiled: true, diagnostics: [], targets, output: tail(targets.map((t) => t.stdout).join("\n"), 40) };
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}
