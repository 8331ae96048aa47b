// What the crate's manifests say about where code comes from, as cargo itself reads them
// (`cargo metadata --no-deps`, given by the caller): TOML in every spelling (literal strings,
// inline tables, dotted keys, target tables), so an edit cannot hide a git dependency.
import path from "node:path";

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
  return problems;
}

/** Build scripts the edit added (to be reviewed). */
export function newBuildScripts(before: ManifestFacts, after: ManifestFacts): string[] {
  return after.buildScripts.filter((b) => !before.buildScripts.includes(b));
}
