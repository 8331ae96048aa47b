// Where the crate's code runs during a Nix build: build scripts, proc macros and (with the
// check phase) its tests run inside `nix build`. Nix's own sandbox confines them when it is
// on; when it is off (Debian's nix.conf, NIX_CONFIG) the whole nix build runs under bwrap
// like cargo builds do, and without bwrap the build is refused. See SECURITY.md.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sandboxBuildArgv } from "../../exec/sandbox.js";
import { toolchainEnv } from "../../exec/env.js";
import { findOnPath } from "../../exec/which.js";
import { failureText, runNix } from "./cli.js";

export type NixConfinement =
  /** Nix's sandbox is on: builds see only their inputs, no network, no host files. */
  | { kind: "nix-sandbox" }
  /** Nix's sandbox is off: the nix build runs under bwrap. */
  | { kind: "bwrap" }
  /** Nix's sandbox is off and so is Flakebot's (FLAKEBOT_SANDBOX=off): nothing confines the build. */
  | { kind: "none" }
  /** Nothing can confine the build here: why (`reason`) and what to do (`fix`). */
  | { kind: "refused"; reason: string; fix: string };

/** A refusal as one message: why, then what to do. */
export function refusalMessage(c: { reason: string; fix: string }): string {
  return `${c.reason}: ${c.fix}`;
}

export const SANDBOX_HINT =
  "turn the Nix sandbox on (`sandbox = true` in /etc/nix/nix.conf, or in NIX_CONFIG), install bubblewrap (apt-get install -y bubblewrap), or set FLAKEBOT_BACKEND=cargo";

interface Setting {
  value: unknown;
}

export interface NixSettings {
  sandbox: boolean | "relaxed";
  store: string;
  /** How long Nix reuses what a branch or a tarball URL resolved to, in seconds. */
  tarballTtl: number;
}

/** The configuration files Nix 2.x reads, in its order: the system's, then the user's. */
function configFiles(env: Record<string, string>): string[] {
  const system = path.join(env.NIX_CONF_DIR || "/etc/nix", "nix.conf");
  if (env.NIX_USER_CONF_FILES) return [system, ...env.NIX_USER_CONF_FILES.split(":").filter(Boolean)];
  const home = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  const dirs = [home, ...(env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter(Boolean)];
  return [system, ...dirs.map((d) => path.join(d, "nix", "nix.conf"))];
}

/**
 * Everything `nix show-config` answers from: the nix program, the environment it reads
 * and its configuration files' text. Undefined (ask nix every time) when a file includes
 * another, which this does not follow.
 */
export function configFingerprint(env: Record<string, string> = toolchainEnv()): string | undefined {
  const hash = createHash("sha256");
  const nix = findOnPath("nix", env);
  if (!nix) return undefined;
  const program = statSync(realpathSync(nix));
  hash.update(`${realpathSync(nix)}\0${program.ino}\0${program.size}\0${program.mtimeMs}`);
  for (const name of ["NIX_CONFIG", "NIX_CONF_DIR", "NIX_USER_CONF_FILES", "NIX_REMOTE", "NIX_STORE_DIR", "NIX_STATE_DIR"]) hash.update(`\0${name}=${env[name] ?? ""}`);
  if (/^\s*!?include\s/m.test(env.NIX_CONFIG ?? "")) return undefined;
  for (const file of configFiles(env)) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      text = "\0absent";
    }
    if (/^\s*!?include\s/m.test(text)) return undefined;
    hash.update(`\0${file}\0${text}`);
  }
  return hash.digest("hex");
}

let settings: { fingerprint: string; value: NixSettings } | undefined;

async function showConfig(env: Record<string, string>, signal?: AbortSignal): Promise<NixSettings> {
  const r = await runNix(["show-config", "--json"], { cwd: process.cwd(), timeoutMs: 60_000, signal, env });
  if (r.exitCode !== 0) throw new Error(`nix show-config failed: ${failureText(r, 5)}`);
  const all = JSON.parse(r.stdout) as Record<string, Setting | undefined>;
  const sandbox = all.sandbox?.value;
  const ttl = Number(all["tarball-ttl"]?.value);
  return {
    sandbox: sandbox === "relaxed" ? "relaxed" : sandbox === true,
    store: String(all.store?.value ?? "auto"),
    tarballTtl: Number.isFinite(ttl) && ttl >= 0 ? ttl : 3600,
  };
}

/**
 * `nix show-config --json`'s sandbox, store and tarball-ttl settings. Asked once while the
 * configuration stays the same (configFingerprint): a changed nix.conf or NIX_CONFIG asks again.
 */
export async function nixSandboxSetting(signal?: AbortSignal, env: Record<string, string> = toolchainEnv()): Promise<NixSettings> {
  const fingerprint = configFingerprint(env);
  if (fingerprint !== undefined && settings?.fingerprint === fingerprint) return settings.value;
  const value = await showConfig(env, signal);
  if (fingerprint !== undefined) settings = { fingerprint, value };
  return value;
}

/** A store this process writes itself (so a bwrap around nix confines the builder too). */
function localStore(store: string): boolean {
  if (store === "local") return true;
  if (store !== "auto") return false;
  // "auto" talks to the daemon when the database is not ours to write.
  return existsSync("/nix/var/nix/db") && !existsSync("/nix/var/nix/daemon-socket/socket");
}

/**
 * How the crate's code in a nix build is confined here, or why it cannot be. `bwrap` is
 * whether Flakebot's build sandbox is usable, or "off" when FLAKEBOT_SANDBOX=off turned it off;
 * `env` the environment nix runs in (default: the toolchain's, as for builds).
 */
export async function nixConfinement(bwrap: boolean | "off", signal?: AbortSignal, env?: Record<string, string>): Promise<NixConfinement> {
  const { sandbox, store } = await nixSandboxSetting(signal, env);
  if (sandbox) return { kind: "nix-sandbox" };
  if (bwrap === "off") return { kind: "none" };
  if (!bwrap) {
    return { kind: "refused", reason: "the Nix sandbox is off (nix show-config: sandbox = false) and bwrap cannot be used, so the crate's build scripts and tests would run unconfined", fix: SANDBOX_HINT };
  }
  if (!localStore(store)) {
    return {
      kind: "refused",
      reason: `the Nix sandbox is off and builds run in the nix-daemon (store = ${store}), outside any bwrap Flakebot could set up`,
      fix: "turn the sandbox on in the daemon's /etc/nix/nix.conf (sandbox = true) and restart it, or set FLAKEBOT_BACKEND=cargo",
    };
  }
  return { kind: "bwrap" };
}

/**
 * The argv of a nix build under bwrap: no network, the home directory and FLAKEBOT_HOME
 * hidden but for the workspace (read by the flake), /nix writable (the store and its
 * database are where the build's output goes). Build with --no-link: the GC root is made outside.
 */
export function confinedNixArgv(argv: string[], spec: { workspace: string; hide: string[] }): string[] {
  return sandboxBuildArgv(argv, {
    workspace: spec.workspace,
    writable: ["/nix"],
    hide: spec.hide.filter((d) => existsSync(d)),
  });
}
