// Wrapping untrusted programs (crafted binaries, and builds of crates with their build.rs,
// proc macros and tests) in bubblewrap: no network, the filesystem read-only except the
// directories the program owns, the user's home and /run hidden, a private /tmp, its own
// PID namespace and session, and it dies with us. Crafted binaries also get resource limits
// (limits.ts) and, when the server runs as root, a user id of their own. See SECURITY.md.
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Config } from "../config.js";
import { DEFAULT_LIMITS, findPrlimit, prlimitArgv, type ResourceLimits } from "./limits.js";
import { findOnPath } from "./which.js";
import { runProcess } from "./process.js";

/**
 * "none": a network namespace of its own (only its own loopback, which is NOT the host's
 * 127.0.0.1: nothing on the host is reachable). "host": the host's network, for services
 * that must listen where Flakebot can reach them (they can then reach whatever the host can).
 */
export type SandboxNetwork = "none" | "host";

export interface SandboxSpec {
  /** The tool's scratch directory: its cwd and HOME, always writable. */
  scratch: string;
  /** Extra paths to show read-only (the binary's own directory is always shown). */
  readOnly?: string[];
  /** Extra paths to make writable (the client's roots under FLAKEBOT_SANDBOX_WRITE=roots). */
  writable?: string[];
  /** Extra directories to hide (FLAKEBOT_HOME, so tools cannot see one another). */
  hide?: string[];
  /** Default "none". `true` means "host" (kept for older callers). */
  network?: boolean | SandboxNetwork;
  /** Resource limits; DEFAULT_LIMITS when absent, none with `false`. */
  limits?: ResourceLimits | false;
}

export interface BuildSandboxSpec {
  /** The checkout being built: writable (Cargo.lock, target/). */
  workspace: string;
  /** CARGO_HOME: its configuration and downloaded crates are shown read-only. */
  cargoHome?: string;
  /** CARGO_TARGET_DIR when it is outside the workspace: writable. */
  targetDir?: string;
  /** RUSTUP_HOME and other toolchain directories to show read-only. */
  readOnly?: string[];
  writable?: string[];
  hide?: string[];
  /**
   * Default "none". "host" only for `cargo fetch` (downloads, no crate code): it then sees
   * CARGO_HOME writable, and still nothing of the server (its own PID namespace, no secrets).
   */
  network?: SandboxNetwork;
  /** The working directory inside the sandbox (default: the workspace). */
  cwd?: string;
}

/** Under FLAKEBOT_SANDBOX_WRITE: whether tools may write to the client's MCP roots. */
export type WritePolicy = "roots" | "none";

let bwrapPath: string | null | undefined;

/** The bwrap executable on PATH, or null. */
export function findBwrap(): string | null {
  if (bwrapPath === undefined) bwrapPath = findOnPath("bwrap");
  return bwrapPath;
}

/** Whether crafted binaries run sandboxed under this configuration. */
export function sandboxEnabled(config: Pick<Config, "sandbox">): boolean {
  if (config.sandbox === "off") return false;
  if (config.sandbox === "bwrap" && !findBwrap()) {
    throw new Error("FLAKEBOT_SANDBOX=bwrap but bwrap is not on PATH: install it (apt-get install -y bubblewrap) or set FLAKEBOT_SANDBOX=auto");
  }
  return findBwrap() !== null;
}

/** FLAKEBOT_SANDBOX_WRITE: "none" (default) or "roots"; throws on anything else. */
export function sandboxWritePolicy(env: NodeJS.ProcessEnv = process.env): WritePolicy {
  const value = env.FLAKEBOT_SANDBOX_WRITE || "none";
  if (value !== "roots" && value !== "none") {
    throw new Error(`FLAKEBOT_SANDBOX_WRITE="${value}": use "none" (tools write only to their scratch directory) or "roots" (also to the client's MCP roots)`);
  }
  return value;
}

/**
 * How the client's MCP roots (file:// URIs or paths) are exposed: always readable, and
 * writable only under the "roots" policy. The filesystem root and the home directory itself
 * are never made writable whole.
 */
export function rootsAccess(roots: string[], policy: WritePolicy): { readOnly: string[]; writable: string[] } {
  const paths = roots.map(rootPath).filter((p): p is string => p !== null && existsSync(p));
  if (policy === "none") return { readOnly: paths, writable: [] };
  const tooBroad = new Set(["/", path.resolve(os.homedir())]);
  return {
    readOnly: paths.filter((p) => tooBroad.has(p)),
    writable: paths.filter((p) => !tooBroad.has(p)),
  };
}

function rootPath(root: string): string | null {
  let p = root;
  if (root.startsWith("file://")) {
    try {
      p = decodeURIComponent(new URL(root).pathname);
    } catch {
      return null;
    }
  }
  if (!path.isAbsolute(p) || p.includes("\0")) return null;
  return path.resolve(p);
}

/** Uids 200000..259999 are used by no distribution; each tool gets one of them. */
const TOOL_UID_BASE = 200_000;
const TOOL_UID_RANGE = 60_000;
const MiB = 1024 * 1024;

/** The user id a tool's program runs as when the server runs as root: stable per scratch. */
export function toolUid(scratch: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(path.resolve(scratch))) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return TOOL_UID_BASE + (h % TOOL_UID_RANGE);
}

function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Builds bwrap's mount arguments so that every mount point under a hidden directory exists. */
class MountPlan {
  readonly args: string[] = [];
  private readonly masks: string[] = [];
  private readonly made = new Set<string>();

  /** Replaces a directory with an empty tmpfs. */
  hide(dir: string, opts: { mode?: string; sizeBytes?: number } = {}): void {
    this.makeParents(dir);
    this.args.push("--perms", opts.mode ?? "0755", "--size", String(opts.sizeBytes ?? MiB), "--tmpfs", dir);
    this.masks.push(dir);
    this.made.add(dir);
  }

  bind(source: string, dest: string, writable: boolean): void {
    this.makeParents(dest);
    this.args.push(writable ? "--bind" : "--ro-bind", source, dest);
  }

  /**
   * bwrap creates missing mount points mode 0700, which a program running as another user
   * could not cross: create them 0755 first.
   */
  private makeParents(dest: string): void {
    const mask = this.masks.filter((m) => isWithin(dest, m) && m !== dest).sort((a, b) => b.length - a.length)[0];
    if (!mask) return;
    const parts = path.relative(mask, path.dirname(dest)).split(path.sep).filter(Boolean);
    let dir = mask;
    for (const part of parts) {
      dir = path.join(dir, part);
      if (this.made.has(dir)) continue;
      this.args.push("--perms", "0755", "--dir", dir);
      this.made.add(dir);
    }
  }
}

function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir === "/" ? "/" : dir + path.sep);
}

/** Ancestors of `p` (not `p` itself) that other users cannot cross. */
function privateAncestors(p: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(p); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) out.push(dir);
    } catch {
      // missing: bwrap reports it
    }
  }
  return out;
}

interface Layout {
  writable: string[];
  readOnly: string[];
  hide: string[];
  /** Hidden directories that the program may still write into (a throwaway tmpfs). */
  writableMasks?: Set<string>;
  /** Run the program as its tool's own user (the server is root and nothing needs its files). */
  dropToUser: boolean;
}

function absolute(paths: string[] | undefined): string[] {
  return (paths ?? []).map((p) => {
    if (!path.isAbsolute(p)) throw new Error(`sandbox path "${p}" is not absolute`);
    if (!existsSync(p)) throw new Error(`sandbox path ${p} does not exist`);
    return path.resolve(p);
  });
}

/** The bwrap arguments up to `--`: namespaces, the filesystem view, and the network. */
function bwrapArgs(layout: Layout, network: SandboxNetwork, cwd: string): string[] {
  const bwrap = findBwrap();
  if (!bwrap) throw new Error("bwrap is not installed: install it (apt-get install -y bubblewrap) or set FLAKEBOT_SANDBOX=off");
  const home = path.resolve(os.homedir());
  const hidden = new Set([...layout.hide, ...["/run", home].filter((d) => d !== "/" && existsSync(d))]);
  // A directory others may not enter is private (FLAKEBOT_HOME/tools, a mkdtemp): hide its
  // other contents. A program that runs as another user could not even cross it otherwise.
  for (const p of [...layout.writable, ...layout.readOnly]) for (const a of privateAncestors(p)) hidden.add(a);
  const plan = new MountPlan();
  // Outer directories first, so inner ones are mounted on top of them.
  const byDepth = (a: string, b: string) => a.split(path.sep).length - b.split(path.sep).length;
  hidden.add("/tmp");
  for (const dir of [...hidden].sort(byDepth)) {
    // /tmp is the program's own; a build's CARGO_HOME takes cargo's lock files (thrown away).
    if (dir === "/tmp") plan.hide(dir, { mode: "1777", sizeBytes: 512 * MiB });
    else plan.hide(dir, { sizeBytes: layout.writableMasks?.has(dir) ? 64 * MiB : MiB });
  }
  const mounts = [...layout.readOnly.map((p) => ({ p, rw: false })), ...layout.writable.map((p) => ({ p, rw: true }))];
  for (const m of mounts.sort((a, b) => byDepth(a.p, b.p))) plan.bind(m.p, m.p, m.rw);
  // The empty stand-ins for hidden directories take no writes (the mounts inside them do).
  for (const dir of hidden) if (dir !== "/tmp" && !layout.writableMasks?.has(dir)) plan.args.push("--remount-ro", dir);

  const args = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"];
  if (network === "none") args.push("--unshare-net");
  args.push("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", ...plan.args, "--chdir", cwd);
  if (runningAsRoot()) {
    // Keep only what setpriv needs to switch to the tool's user; it loses them in the switch.
    args.push("--cap-drop", "ALL");
    if (layout.dropToUser) args.push("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID");
    else args.push("--unshare-user", "--uid", "65534", "--gid", "65534");
  }
  return args;
}

/** On a read-only FLAKEBOT_HOME the scratch keeps its owner: the tool still runs, unable to write. */
function ownScratch(change: () => void): void {
  try {
    change();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EROFS") throw err;
  }
}

/**
 * The argv that runs a crafted binary inside the sandbox. When the server runs as root the
 * program runs as a user of its own (toolUid), which owns the scratch directory, so the
 * process limit holds and root-only files stay unreadable; except when it must write to
 * `writable` paths the user owns, where it runs as root in a user namespace without
 * capabilities (and the process limit cannot hold: the kernel exempts root).
 */
export function sandboxArgv(argv: string[], spec: SandboxSpec): string[] {
  const scratch = path.resolve(spec.scratch);
  if (!existsSync(scratch)) mkdirSync(scratch, { recursive: true });
  const writable = absolute(spec.writable);
  const setprivPath = findOnPath("setpriv");
  const dropToUser = runningAsRoot() && writable.length === 0 && setprivPath !== null;
  const uid = toolUid(scratch);
  // The scratch directory belongs to whoever the program runs as (the policy may change).
  const owner = dropToUser ? uid : process.getuid?.();
  const st = statSync(scratch);
  if (runningAsRoot() && owner !== undefined && st.uid !== owner) ownScratch(() => chownSync(scratch, owner, owner));
  // bwrap enters it before the switch, as a root without capabilities: it needs o+x.
  if (dropToUser && (st.mode & 0o001) === 0) ownScratch(() => chmodSync(scratch, (st.mode & 0o777) | 0o011));

  const readOnly = absolute(spec.readOnly);
  if (path.isAbsolute(argv[0])) readOnly.push(path.dirname(path.resolve(argv[0])));
  const network = spec.network === true ? "host" : spec.network || "none";
  const layout: Layout = { writable: [scratch, ...writable], readOnly, hide: absolute(spec.hide), dropToUser };
  const limits = spec.limits === false ? [] : prlimitArgv(spec.limits ?? DEFAULT_LIMITS, { ownUser: dropToUser });
  const setpriv = dropToUser ? [setprivPath!, `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"] : [];
  return [...limits, ...bwrapArgs(layout, network, scratch), "--", ...setpriv, ...argv];
}

/**
 * The argv that runs a build (cargo build/test, nix build) of untrusted code: the workspace
 * and target directory writable, CARGO_HOME's configuration and crates read-only (its
 * credentials hidden, its lock files on a throwaway tmpfs), the home directory hidden,
 * no network. Run it with the same environment as before (toolchainEnv).
 */
export function sandboxBuildArgv(argv: string[], spec: BuildSandboxSpec): string[] {
  const workspace = path.resolve(spec.workspace);
  if (spec.targetDir) mkdirSync(spec.targetDir, { recursive: true });
  const writable = [workspace, ...absolute(spec.targetDir ? [spec.targetDir] : []), ...absolute(spec.writable)];
  const readOnly = [...absolute(spec.readOnly), ...toolchainDirs()];
  const hide = absolute(spec.hide);
  const writableMasks = new Set<string>();
  const network = spec.network ?? "none";
  if (spec.cargoHome && existsSync(spec.cargoHome)) {
    const cargoHome = path.resolve(spec.cargoHome);
    if (network === "host") {
      writable.push(cargoHome);
    } else {
      hide.push(cargoHome);
      writableMasks.add(cargoHome);
      for (const part of ["config.toml", "config", "registry", "git", "bin"]) {
        const p = path.join(cargoHome, part);
        if (existsSync(p)) readOnly.push(p);
      }
    }
  }
  // What the build writes into .git/config or .git/hooks would run when the server uses git.
  const gitDir = path.join(workspace, ".git");
  if (existsSync(gitDir)) readOnly.push(gitDir);
  if (spec.cwd) readOnly.push(...absolute([spec.cwd]));
  // A build is never dropped to another user: the toolchain and workspace belong to ours.
  const layout: Layout = { writable, readOnly: [...new Set(readOnly)], hide, writableMasks, dropToUser: false };
  return [...bwrapArgs(layout, network, spec.cwd ? path.resolve(spec.cwd) : workspace), "--", ...argv];
}

/** Where the Rust toolchain lives when it is under the home directory (rustup). */
function toolchainDirs(): string[] {
  const home = path.resolve(os.homedir());
  const rustupHome = path.resolve(process.env.RUSTUP_HOME ?? path.join(home, ".rustup"));
  const onPath = (process.env.PATH ?? "").split(path.delimiter).filter((d) => d && path.isAbsolute(d));
  return [...new Set([rustupHome, ...onPath].filter((d) => isWithin(d, home) && existsSync(d)).map((d) => path.resolve(d)))];
}

export interface SandboxCheck {
  ok: boolean;
  /** What works, or what failed and what to do. */
  detail: string;
}

/**
 * Runs `true` in the full sandbox once: bwrap can be installed yet unusable (unprivileged
 * user namespaces disabled, as by Ubuntu 24.04's AppArmor default, or inside some containers).
 * For `doctor`, and for FLAKEBOT_SANDBOX=auto to fall back with a clear warning.
 */
export async function checkSandbox(env: Record<string, string | undefined> = process.env): Promise<SandboxCheck> {
  if (!findBwrap()) return { ok: false, detail: "bwrap is not installed: install bubblewrap (apt-get install -y bubblewrap) so crafted tools run sandboxed" };
  const scratch = await mkdtemp(path.join(os.tmpdir(), "flakebot-sandbox-check-"));
  try {
    const path_ = env.PATH ?? "/usr/bin:/bin";
    const r = await runProcess(sandboxArgv([findOnPath("true", env) ?? "true"], { scratch }), { kind: "sandbox", cwd: scratch, env: { PATH: path_ }, timeoutMs: 10_000 });
    if (r.exitCode === 0) {
      const who = runningAsRoot() ? "each tool as its own user" : "as you, in a user namespace";
      const limits = findPrlimit() ? "with resource limits" : "WITHOUT resource limits (prlimit from util-linux is missing)";
      return { ok: true, detail: `${findBwrap()} works: no network, read-only filesystem, ${who}, ${limits}` };
    }
    const why = (r.stderr || r.stdout).trim().split("\n").slice(-2).join(" ");
    const how = r.timedOut ? "did not answer in time" : `exited with code ${r.exitCode}`;
    return { ok: false, detail: `bwrap is installed but cannot create a sandbox (${how}: ${why}): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile for bwrap on Ubuntu 24.04+)` };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
