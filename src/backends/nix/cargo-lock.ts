// What Nix needs from a Cargo.lock before a flake can be reproducible: nixpkgs'
// importCargoLock fetches every registry package by its crates.io checksum (a sha256), and
// every git package by an output hash given in `outputHashes`. A lock resolved against a
// replaced registry (Debian's reads "Could not get crate checksum") cannot be fetched.

export interface LockPackage {
  name: string;
  version: string;
  source?: string;
  checksum?: string;
}

export interface GitSource {
  /** The repository URL (without `git+`, the query and the fragment). */
  url: string;
  /** The locked commit. */
  commit: string;
  /** `name-version` of every package from that commit (the keys of outputHashes). */
  packages: string[];
}

export interface LockReview {
  /** Why the lock cannot be built reproducibly, one line per package; empty when it can. */
  problems: string[];
  git: GitSource[];
}

const CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index";
const SHA256_HEX = /^[0-9a-f]{64}$/;
const GIT_SOURCE = /^git\+((?:https|ssh|git|file):\/\/[^?#\s]+)(?:\?[^#]*)?#([0-9a-f]{40})$/;

function unquote(value: string): string | undefined {
  const m = /^"((?:[^"\\]|\\.)*)"\s*$/.exec(value.trim());
  return m ? m[1].replace(/\\(.)/g, "$1") : undefined;
}

/** The [[package]] entries of a Cargo.lock (v1 to v4), with v1's [metadata] checksums merged in. */
export function lockPackages(text: string): LockPackage[] {
  const packages: LockPackage[] = [];
  const metadata = new Map<string, string>();
  let current: LockPackage | undefined;
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      section = line;
      current = line === "[[package]]" ? { name: "", version: "" } : undefined;
      if (current) packages.push(current);
      continue;
    }
    const kv = /^("(?:[^"\\]|\\.)*"|[\w-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const value = unquote(kv[2]);
    if (value === undefined) continue;
    if (section === "[metadata]") metadata.set(unquote(kv[1]) ?? kv[1], value);
    else if (current && (kv[1] === "name" || kv[1] === "version" || kv[1] === "source" || kv[1] === "checksum")) current[kv[1]] = value;
  }
  for (const p of packages) {
    if (p.source && p.checksum === undefined) p.checksum = metadata.get(`checksum ${p.name} ${p.version} (${p.source})`);
  }
  return packages;
}

/** Checks every dependency of the lock the way importCargoLock will fetch it. */
export function reviewLock(text: string): LockReview {
  const problems: string[] = [];
  const git = new Map<string, GitSource>();
  for (const p of lockPackages(text)) {
    if (!p.source) continue; // a package of the workspace itself
    const id = `${p.name} ${p.version}`;
    if (p.source === CRATES_IO) {
      if (p.checksum === undefined) problems.push(`${id} has no checksum`);
      else if (!SHA256_HEX.test(p.checksum)) problems.push(`${id} has checksum "${p.checksum.slice(0, 80)}", not a crates.io sha256`);
      continue;
    }
    const g = GIT_SOURCE.exec(p.source);
    if (g) {
      const key = `${g[1]}#${g[2]}`;
      const entry = git.get(key) ?? { url: g[1], commit: g[2], packages: [] };
      entry.packages.push(`${p.name}-${p.version}`);
      git.set(key, entry);
      continue;
    }
    problems.push(`${id} comes from ${p.source.slice(0, 120)}, a source nixpkgs cannot fetch (only crates.io and git)`);
  }
  return { problems, git: [...git.values()] };
}

/** The craft's explanation when the lock cannot be reproducible. */
export function irreproducibleLock(problems: string[]): string {
  const shown = problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : "");
  return (
    `Cargo.lock cannot be built reproducibly by Nix: ${shown}. ` +
    `nixpkgs fetches each crate from crates.io by the checksum in Cargo.lock; a lock resolved against a replaced or local registry ` +
    `(a vendored or distribution registry) lacks them. Regenerate Cargo.lock against crates.io (cargo generate-lockfile with network) to make the build reproducible`
  );
}
