// The build cache: a craft of an identical tree (same content, same package and binary,
// same backend) reuses the earlier build and its test results instead of rebuilding.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { buildsDir, inside } from "../state/paths.js";
import { readJson, writeJsonAtomic } from "../state/store.js";
import type { BuildInfo, TargetInfo, TestCounts } from "../model/craft.js";

export interface CachedBuild {
  build: BuildInfo;
  tests?: TestCounts;
}

export function buildKey(tree: string, target: TargetInfo, backend: string): string {
  return createHash("sha256")
    .update(JSON.stringify([tree, target.package, target.bin, target.dir, backend, ...(target.features?.length ? [target.features] : [])]))
    .digest("hex")
    .slice(0, 32);
}

export function cacheDir(home: string, key: string): string {
  return inside(buildsDir(home), key);
}

function recordFile(home: string, key: string): string {
  return path.join(cacheDir(home, key), "build.json");
}

/** The earlier build for `key`, when its binary is still there. */
export async function lookupBuild(home: string, key: string): Promise<CachedBuild | undefined> {
  let cached: CachedBuild | undefined;
  try {
    cached = await readJson<CachedBuild>(recordFile(home, key));
  } catch {
    return undefined; // a corrupt record is a miss, rebuilt over
  }
  if (!cached) return undefined;
  try {
    await fs.access(cached.build.binary, fs.constants.X_OK);
  } catch {
    return undefined;
  }
  return cached;
}

export async function recordBuild(home: string, key: string, entry: CachedBuild): Promise<void> {
  await fs.mkdir(cacheDir(home, key), { recursive: true });
  await writeJsonAtomic(recordFile(home, key), entry);
}

/** Removes the cached build when no remaining tool uses its key. Returns what it removed. */
export async function releaseBuild(home: string, key: string, stillUsed: boolean): Promise<string[]> {
  if (stillUsed) return [];
  const dir = cacheDir(home, key);
  try {
    await fs.access(dir);
  } catch {
    return [];
  }
  await fs.rm(dir, { recursive: true, force: true });
  return [dir];
}
