// A build backend turns a crate that passed its checks into the binary a crafted tool runs.
// Adding one touches three files: its implementation in backends/<name>/backend.ts, its
// name in model/backends.ts, and its entry in backends/select.ts. Nothing else in the
// pipeline knows which backend it has.
import type { Config } from "../config.js";
import type { BuildInfo, Craft, TargetInfo } from "../model/craft.js";
import type { ToolPaths } from "../state/paths.js";
import type { TestReader } from "../model/test-run.js";
import type { BackendName } from "../model/backends.js";

export type { BackendName } from "../model/backends.js";

/** What a backend may use of a craft in progress (a StageContext satisfies it). */
export interface BackendContext {
  config: Config;
  paths: ToolPaths;
  signal: AbortSignal;
  log(line: string): void;
  progress(message: string): void;
  /** Crate code runs under Flakebot's sandbox (bwrap present and on). */
  sandboxed?: boolean;
  /** Reads the crate's test run out of a build log (the gate's parser, given by the package stage). */
  readTests?: TestReader;
}

export interface BackendProbe {
  available: boolean;
  version?: string;
  /** Why it is not usable, and what to do. */
  reason?: string;
}

export interface Backend {
  readonly name: BackendName;
  /** Whether this machine can build with it (the runtime and doctor ask the same). */
  probe(signal?: AbortSignal): Promise<BackendProbe>;
  /** The package stage: turns craft.build (the tested cargo build) into the tool's binary. */
  package(ctx: BackendContext, craft: Craft): Promise<Partial<Craft>>;
  /** Makes an identical earlier build (another tool's) this tool's own, e.g. a GC root. */
  reuse(ctx: BackendContext, build: BuildInfo): Promise<void>;
  /** Environment additions that give cargo this backend's toolchain (the modify loop's builds). */
  toolchain?(ctx: BackendContext, target: TargetInfo): Promise<Record<string, string>>;
  /** Removes what this backend made for one tool; returns what it removed. */
  dispose(paths: ToolPaths, craft: Craft | undefined): Promise<string[]>;
}
