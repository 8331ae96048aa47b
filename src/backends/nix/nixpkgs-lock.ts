// The flake.lock every crafted flake commits: nixpkgs (FLAKEBOT_NIXPKGS) locked under the
// constant inputs of flake.nix. The lock names nothing of the crate (the flake itself is the
// lock's root, which records no source), so one `nix flake lock` per pin serves every craft,
// as long as the lock is still what `nix flake lock` would write now:
// - a pinned ref (a commit, a narHash) always locks the same way;
// - a branch of a remote flake (github:, https:, git+https:) locks to what Nix itself reuses
//   for `tarball-ttl` seconds before it asks the remote again: the cached lock lives as long;
// - a local `path:` locks to the directory's content: the cached lock lives while no file
//   of the directory changed (inode, size, mtime and ctime of every entry);
// - anything else (a git+file checkout, a registry name) is locked afresh each time.
// And in every case only while the sources it locks are still in the store (a confined
// build has no network to fetch them again).
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, type BigIntStats } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CraftError } from "../../model/errors.js";
import { DEFAULT_NIXPKGS } from "../../config.js";
import { failureText, nixpkgsRefusal, runNix } from "./cli.js";
import { FLAKE_NIX, LOCK_FILE } from "./flake-files.js";
import { nixSandboxSetting } from "./sandbox.js";

/** Locking may download nixpkgs (tens of MB). */
const LOCK_TIMEOUT_MS = 20 * 60_000;

type Freshness =
  | { kind: "pinned" }
  | { kind: "ttl" }
  | { kind: "path"; dir: string };

interface CachedLock {
  text: string;
  lockedAt: number;
  fingerprint?: string;
}

const locks = new Map<string, CachedLock>();

const PINNED = /[?&](?:rev=[0-9a-f]{40}|narHash=)|^(?:github|gitlab|sourcehut):[^/]+\/[^/?#]+\/[0-9a-f]{40}(?:[?#]|$)/;
const REMOTE = /^(?:github|gitlab|sourcehut):|^(?:git\+|tarball\+|file\+)?(?:https?|ssh):\/\//;

/** How long a lock of `nixpkgs` stays what `nix flake lock` would write, or undefined: lock every time. */
export function lockFreshness(nixpkgs: string): Freshness | undefined {
  if (PINNED.test(nixpkgs)) return { kind: "pinned" };
  const local = /^path:(\/[^?#]*)$/.exec(nixpkgs);
  if (local) return { kind: "path", dir: local[1] };
  if (REMOTE.test(nixpkgs)) return { kind: "ttl" };
  return undefined;
}

/**
 * What a copy of a local directory into the store depends on: every entry's path, type,
 * inode, size, mtime and ctime (ctime moves on any write, and cannot be set back).
 */
export function treeFingerprint(dir: string): string {
  const hash = createHash("sha256");
  const root = realpathSync(dir);
  hash.update(root);
  const visit = (rel: string) => {
    const full = path.join(root, rel);
    const st = lstatSync(full, { bigint: true }) as BigIntStats;
    hash.update(`\0${rel}\0${st.mode}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`);
    if (st.isSymbolicLink()) hash.update(`\0${readlinkSync(full)}`);
    else if (st.isDirectory()) for (const name of readdirSync(full).sort()) visit(path.join(rel, name));
  };
  visit("");
  return hash.digest("hex");
}

const NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";

function nixBase32(bytes: Buffer): string {
  let out = "";
  for (let n = Math.ceil((bytes.length * 8) / 5) - 1; n >= 0; n--) {
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    const c = (bytes[i] >> j) | (i + 1 < bytes.length ? bytes[i + 1] << (8 - j) : 0);
    out += NIX_BASE32[c & 0x1f];
  }
  return out;
}

/**
 * The store path a flake input with this narHash is kept at: a source fetched by Nix is the
 * fixed-output path "source" of its NAR hash (what `nix-store --print-fixed-path --recursive
 * sha256 <hash> source` prints).
 */
export function sourceStorePath(narHash: string, storeDir = process.env.NIX_STORE_DIR ?? "/nix/store"): string | undefined {
  const m = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(narHash);
  if (!m) return undefined;
  const digest = Buffer.from(m[1], "base64");
  const inner = createHash("sha256").update(`source:sha256:${digest.toString("hex")}:${storeDir}:source`).digest();
  const folded = Buffer.alloc(20);
  for (let i = 0; i < inner.length; i++) folded[i % 20] ^= inner[i];
  return `${storeDir}/${nixBase32(folded)}-source`;
}

interface LockFile {
  nodes?: Record<string, { locked?: { narHash?: string } }>;
}

/** Whether every source the lock pins is in the store (so a build needs no fetch). */
function sourcesPresent(text: string): boolean {
  const nodes = Object.values((JSON.parse(text) as LockFile).nodes ?? {});
  return nodes.every((node) => {
    if (!node.locked) return true;
    const stored = node.locked.narHash ? sourceStorePath(node.locked.narHash) : undefined;
    return stored !== undefined && existsSync(stored);
  });
}

function cacheKey(nixpkgs: string): string {
  return `${DEFAULT_NIXPKGS}\0${nixpkgs}`;
}

function fingerprintOf(freshness: Freshness): string | undefined {
  if (freshness.kind !== "path") return undefined;
  try {
    return treeFingerprint(freshness.dir);
  } catch {
    return undefined; // gone or unreadable: nix says why when it locks
  }
}

async function stillFresh(entry: CachedLock, freshness: Freshness, signal?: AbortSignal): Promise<boolean> {
  if (!sourcesPresent(entry.text)) return false;
  if (freshness.kind === "pinned") return true;
  if (freshness.kind === "path") return entry.fingerprint !== undefined && entry.fingerprint === fingerprintOf(freshness);
  // Without Nix's answer the lock is not known to be fresh: lock again (nix then says what is wrong).
  const ttl = await nixSandboxSetting(signal).then((s) => s.tarballTtl, () => 0);
  return Date.now() - entry.lockedAt < ttl * 1000;
}

function lockFailure(nixpkgs: string, text: string): string {
  const refusal = nixpkgsRefusal(text);
  if (refusal) return refusal;
  return (
    `nix flake lock could not lock nixpkgs ${nixpkgs}:\n${text}\n` +
    `Check that FLAKEBOT_NIXPKGS names a flake this machine can reach (a local path or a mirror works offline).`
  );
}

export interface LockOptions {
  /** Where the flake that is locked is made (removed after). */
  scratch?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** `nix flake lock` of a flake with flake.nix's inputs only, nixpkgs overridden to `nixpkgs`. */
async function lockAfresh(nixpkgs: string, opts: LockOptions): Promise<string> {
  const base = opts.scratch ?? os.tmpdir();
  await fs.mkdir(base, { recursive: true });
  const dir = await fs.mkdtemp(path.join(base, "nixpkgs-lock-"));
  try {
    await fs.writeFile(path.join(dir, "flake.nix"), FLAKE_NIX);
    const r = await runNix(["flake", "lock", "--override-input", "nixpkgs", nixpkgs, `path:${dir}`], {
      cwd: dir,
      timeoutMs: LOCK_TIMEOUT_MS,
      signal: opts.signal,
      onLine: opts.log,
    });
    if (r.exitCode !== 0) throw new CraftError("package", lockFailure(nixpkgs, failureText(r, 15)));
    return await fs.readFile(path.join(dir, LOCK_FILE), "utf8");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The text of flake.lock for a crafted flake with nixpkgs locked to `nixpkgs`: the cached
 * lock of this pin while it is fresh (see above), else a new `nix flake lock`.
 */
export async function nixpkgsLock(nixpkgs: string, opts: LockOptions = {}): Promise<string> {
  const freshness = lockFreshness(nixpkgs);
  const key = cacheKey(nixpkgs);
  const cached = locks.get(key);
  if (cached && freshness && (await stillFresh(cached, freshness, opts.signal))) {
    opts.log?.(`flake.lock: nixpkgs ${nixpkgs} as locked ${Math.round((Date.now() - cached.lockedAt) / 1000)} s ago (unchanged since)`);
    return cached.text;
  }
  locks.delete(key);
  // The fingerprint is taken before locking: a change while nix copies the tree shows next time.
  const before = freshness ? fingerprintOf(freshness) : undefined;
  const lockedAt = Date.now();
  const text = await lockAfresh(nixpkgs, opts);
  if (freshness && (freshness.kind !== "path" || before !== undefined)) locks.set(key, { text, lockedAt, fingerprint: before });
  return text;
}
