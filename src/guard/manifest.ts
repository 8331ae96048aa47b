// What the crate's manifests say about where code comes from, as cargo itself reads them
// (`cargo metadata --no-deps`, given by the caller): TOML in every spelling (literal strings,
// inline tables, dotted keys, target tables), so an edit cannot hide a git dependency. What
// cargo metadata does not report ([patch], [replace], a target's harness) is read from the
// edited text, parsed by smol-toml (toml.ts).
import path from "node:path";
import { TomlError, tomlLeaves, type TomlLeaf } from "./toml.js";

/** The part of `cargo metadata --format-version 1 --no-deps` the guard reads. */
export interface ManifestMetadata {
  packages: {
    dependencies?: { name: string; source?: string | null; path?: string }[];
    targets: { kind: string[]; src_path?: string }[];
  }[];
}

/** Reads the crate's manifests as cargo does (cargoMetadata, sandboxed). */
export type ReadManifests = (root: string) => Promise<ManifestMetadata>;

export interface ManifestFacts {
  /** "name from git+url" for every git dependency. */
  gitDependencies: string[];
  /** Absolute directories of path dependencies. */
  pathDependencies: string[];
  /** Build scripts, relative to the crate's root. */
  buildScripts: string[];
}

export async function manifestFacts(root: string, read: ReadManifests): Promise<ManifestFacts> {
  const meta = await read(root);
  const facts: ManifestFacts = { gitDependencies: [], pathDependencies: [], buildScripts: [] };
  for (const pkg of meta.packages) {
    for (const dep of pkg.dependencies ?? []) {
      if (dep.source?.startsWith("git+")) facts.gitDependencies.push(`${dep.name} from ${dep.source}`);
      if (dep.path) facts.pathDependencies.push(path.resolve(dep.path));
    }
    for (const t of pkg.targets) {
      if (t.kind.includes("custom-build") && t.src_path) facts.buildScripts.push(path.relative(root, t.src_path).split(path.sep).join("/"));
    }
  }
  return facts;
}

/** What an edit brought that the guard refuses, from the facts before and after it. */
export function manifestProblems(root: string, before: ManifestFacts, after: ManifestFacts): string[] {
  const problems: string[] = [];
  const real = path.resolve(root);
  for (const dep of after.gitDependencies.filter((d) => !before.gitDependencies.includes(d))) {
    problems.push(`Cargo.toml would add a git dependency (${dep}): dependencies must come from crates.io`);
  }
  for (const dir of after.pathDependencies.filter((d) => !before.pathDependencies.includes(d))) {
    if (dir !== real && !dir.startsWith(real + path.sep)) problems.push(`Cargo.toml would add a path dependency outside the crate (${dir})`);
  }
  // A build script is reviewed before it runs, which needs it inside the crate.
  for (const script of newBuildScripts(before, after).filter((b) => b.startsWith("../") || path.isAbsolute(b))) {
    problems.push(`Cargo.toml would run a build script outside the crate (${script}): a build script must be a file of the crate`);
  }
  return problems;
}

/** Build scripts the edit added (to be reviewed). */
export function newBuildScripts(before: ManifestFacts, after: ManifestFacts): string[] {
  return after.buildScripts.filter((b) => !before.buildScripts.includes(b));
}

/** Kinds of target tables in Cargo.toml ([lib], [[bin]], [[test]], [[bench]], [[example]]). */
const TARGET_TABLES = new Set(["lib", "bin", "test", "bench", "example"]);

/** Dependencies redirected away from what crates.io publishes: `[patch.<source>.<crate>]`, `[replace."<crate>:<version>"]`. */
function redirections(leaves: TomlLeaf[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const l of leaves) {
    const width = l.path[0] === "patch" ? 3 : l.path[0] === "replace" ? 2 : 0;
    if (!width) continue;
    const entry = l.path.slice(0, width).join(".");
    found.set(entry, (found.get(entry) ?? new Set()).add(`${l.path.join(".")}=${l.value}`));
  }
  return found;
}

/**
 * Targets set to run without libtest's harness: key (targetKey) -> how Cargo.toml names it
 * ("[[test]] cli", by name, else by path).
 */
function unharnessed(leaves: TomlLeaf[]): Map<string, string> {
  const entries = new Map<string, { name?: string; path?: string }>();
  for (const l of leaves) {
    if (!TARGET_TABLES.has(l.path[0]) || l.path.length !== 3 || (l.path[2] !== "name" && l.path[2] !== "path")) continue;
    const id = `${l.path[0]}.${l.path[1]}`;
    entries.set(id, { ...entries.get(id), [l.path[2]]: l.value });
  }
  const out = new Map<string, string>();
  for (const l of leaves) {
    if (l.path.at(-1) !== "harness" || l.value === "true" || !TARGET_TABLES.has(l.path[0])) continue;
    if (l.path[0] === "lib" && l.path.length === 2) out.set(targetKey("lib", ""), "[lib]");
    if (l.path.length !== 3) continue;
    const e = entries.get(`${l.path[0]}.${l.path[1]}`) ?? {};
    const name = e.name ?? (e.path ? path.posix.basename(e.path).replace(/\.rs$/, "") : undefined);
    out.set(targetKey(l.path[0], name ?? `#${l.path[1]}`), `[[${l.path[0]}]] ${name ?? `number ${Number(l.path[1]) + 1}`}`);
  }
  return out;
}

/** A target as Cargo.toml's tables name it: its kind ("lib", "bin", "test"...) and name (none for the lib). */
export function targetKey(kind: string, name: string): string {
  return kind === "lib" ? "lib" : `${kind} ${name}`;
}

/** The targets a manifest runs without libtest's harness (as targetKey), or none when it cannot be read. */
export function unharnessedTargets(manifest: string): Set<string> {
  return new Set(unharnessed(leavesOrNone(manifest)).keys());
}

function leavesOrNone(text: string | null): TomlLeaf[] {
  try {
    return text === null ? [] : tomlLeaves(text);
  } catch (err) {
    if (err instanceof TomlError) return [];
    throw err;
  }
}

/**
 * What an edit of one manifest (`rel`, its text before and after) sets that cargo metadata
 * does not report and the guard refuses: a dependency redirected by [patch] or [replace]
 * (to a git repository or a directory, past the crates.io-only rule), and a target run
 * without libtest's harness (its own main would print whatever test results it likes).
 */
export function manifestTextProblems(rel: string, before: string | null, after: string): string[] {
  let now: TomlLeaf[];
  try {
    now = tomlLeaves(after);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    return [`${rel} cannot be read after the edit (${err.message}): write it as plain TOML`];
  }
  const was = leavesOrNone(before);
  const problems: string[] = [];
  const old = redirections(was);
  for (const [entry, values] of redirections(now)) {
    const same = old.get(entry);
    if (same && [...values].every((v) => same.has(v))) continue;
    const section = entry.startsWith("patch.") ? "[patch]" : "[replace]";
    problems.push(`${rel} would add or change a ${section} entry (${entry}): dependencies must come from crates.io as published, not be patched or replaced by another source`);
  }
  const harnessed = unharnessed(was);
  for (const [key, target] of unharnessed(now)) {
    if (!harnessed.has(key)) problems.push(`${rel} would run the target ${target} without libtest's harness (harness = false): its test results could not be told from what it prints`);
  }
  return problems;
}
