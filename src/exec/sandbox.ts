// Wrapping a crafted binary's argv in bubblewrap: no network, the filesystem read-only
// except the tool's scratch directory, a private /tmp, a new session, and it dies with us.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";

export interface SandboxSpec {
  /** The one writable directory: the tool's scratch (its HOME and cwd). */
  scratch: string;
  /** Extra read-only paths to expose (the binary's own directory is always visible). */
  readOnly?: string[];
  /** Let the program use the network (services listening on loopback). */
  network?: boolean;
}

let bwrapPath: string | null | undefined;

/** The bwrap executable on PATH, or null. */
export function findBwrap(): string | null {
  if (bwrapPath !== undefined) return bwrapPath;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "bwrap");
    if (dir && existsSync(candidate)) return (bwrapPath = candidate);
  }
  return (bwrapPath = null);
}

/** Whether crafted binaries run sandboxed under this configuration. */
export function sandboxEnabled(config: Pick<Config, "sandbox">): boolean {
  if (config.sandbox === "off") return false;
  if (config.sandbox === "bwrap" && !findBwrap()) {
    throw new Error("FLAKEBOT_SANDBOX=bwrap but bwrap is not on PATH: install it (apt-get install -y bubblewrap) or set FLAKEBOT_SANDBOX=auto");
  }
  return findBwrap() !== null;
}

/** The argv that runs `argv` inside the sandbox. */
export function sandboxArgv(argv: string[], spec: SandboxSpec): string[] {
  const bwrap = findBwrap();
  if (!bwrap) throw new Error("bwrap is not installed");
  const out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const p of spec.readOnly ?? []) out.push("--ro-bind", p, p);
  out.push("--bind", spec.scratch, spec.scratch, "--chdir", spec.scratch);
  if (!spec.network) out.push("--unshare-net");
  out.push("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session", "--die-with-parent", "--", ...argv);
  return out;
}
