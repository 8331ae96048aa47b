// Crafts share their dependency builds through sccache (Debian packages it): every cargo
// build of the cargo backend and the modify loop compiles through one compiler cache under
// FLAKEBOT_HOME, so a second clap-based tool does not pay clap's compile again. Each craft
// keeps its own target directory, so binaries never race for target/release/<bin>.
import path from "node:path";
import { mkdirSync } from "node:fs";
import { findOnPath } from "../../exec/which.js";

export interface SharedCache {
  env: Record<string, string>;
  /** The cache directory, writable inside the build sandbox. */
  writable: string[];
}

/** The cache's place in FLAKEBOT_HOME. */
export function sharedCacheDir(home: string): string {
  return path.join(home, "cache", "sccache");
}

/** sccache as cargo's RUSTC_WRAPPER when it is installed, else nothing (each craft compiles alone). */
export function sharedCache(home: string): SharedCache | undefined {
  const sccache = findOnPath("sccache");
  if (!sccache) return undefined;
  const dir = sharedCacheDir(home);
  mkdirSync(dir, { recursive: true });
  return {
    // Inside the build sandbox the sccache server is the build's own (its own network
    // namespace and PID namespace), started and ended with the build; only the cache persists.
    env: { RUSTC_WRAPPER: sccache, SCCACHE_DIR: dir, SCCACHE_CACHE_SIZE: "10G" },
    writable: [dir],
  };
}
