// Where everything lives under FLAKEBOT_HOME. Names are validated before they get here,
// and every derived path is checked to stay inside its parent.
import path from "node:path";
import { NAME_PATTERN } from "../model/names.js";

export interface ToolPaths {
  /** home/tools/<name> */
  dir: string;
  manifest: string;
  /** The git checkout the tool is built from. */
  workspace: string;
  /** The crafted binary's own working directory and HOME. */
  scratch: string;
  /** The build/test log. */
  log: string;
  /** Nix out-link: the GC root that keeps the tool's store path alive. */
  gcroot: string;
  /**
   * The empty directory cargo runs in for this tool (beside its workspace, never inside it,
   * so no `.cargo/config*` of the source is read): crash recovery finds a dead craft's
   * cargo by this working directory.
   */
  cargoCwd: string;
}

/** Resolves `rel` under `root` and throws when the result would leave `root`. */
export function inside(root: string, rel: string): string {
  const base = path.resolve(root);
  const full = path.resolve(base, rel);
  if (full !== base && !full.startsWith(base + path.sep)) {
    throw new Error(`path "${rel}" leaves ${base}`);
  }
  return full;
}

export function toolsDir(home: string): string {
  return path.join(home, "tools");
}

export function buildsDir(home: string): string {
  return path.join(home, "builds");
}

/** True when `name` can be a tool's directory: the one check before a name becomes a path. */
export function isToolName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function toolPaths(home: string, name: string): ToolPaths {
  // ".", "x/.." and "" all resolve to tools/ itself, which `inside` allows: only a valid
  // name may become a tool's directory.
  if (!isToolName(name)) throw new Error(`"${name.slice(0, 60)}" is not a valid tool name, so it names no tool directory`);
  const dir = inside(toolsDir(home), name);
  return {
    dir,
    manifest: path.join(dir, "manifest.json"),
    workspace: path.join(dir, "workspace"),
    scratch: path.join(dir, "scratch"),
    log: path.join(dir, "build.log"),
    gcroot: path.join(dir, "result"),
    cargoCwd: path.join(dir, "cargo-cwd"),
  };
}

/** The tool whose workspace holds `dir` (a crate being crafted), or undefined. */
export function toolOfWorkspace(home: string, dir: string): ToolPaths | undefined {
  const [name] = path.relative(toolsDir(home), path.resolve(dir)).split(path.sep);
  if (!isToolName(name)) return undefined;
  const paths = toolPaths(home, name);
  const full = path.resolve(dir);
  return full === paths.workspace || full.startsWith(paths.workspace + path.sep) ? paths : undefined;
}
