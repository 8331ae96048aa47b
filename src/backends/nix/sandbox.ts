// Where the crate's code runs during a Nix build: build scripts, proc macros and (with the
// check phase) its tests run inside `nix build`. Nix's own sandbox confines them when it is
// on; when it is off (Debian's nix.conf, NIX_CONFIG) the whole nix build runs under bwrap
// like cargo builds do, and without bwrap the build is refused. See SECURITY.md.
import { existsSync } from "node:fs";
import { sandboxBuildArgv } from "../../exec/sandbox.js";
import { failureText, runNix } from "./cli.js";

export type NixConfinement =
  /** Nix's sandbox is on: builds see only their inputs, no network, no host files. */
  | { kind: "nix-sandbox" }
  /** Nix's sandbox is off: the nix build runs under bwrap. */
  | { kind: "bwrap" }
  /** Nix's sandbox is off and so is Flakebot's (FLAKEBOT_SANDBOX=off): nothing confines the build. */
  | { kind: "none" }
  | { kind: "refused"; reason: string };

export const SANDBOX_HINT =
  "turn the Nix sandbox on (`sandbox = true` in /etc/nix/nix.conf, or in NIX_CONFIG), install bubblewrap (apt-get install -y bubblewrap), or set FLAKEBOT_BACKEND=cargo";

interface Setting {
  value: unknown;
}

/** `nix show-config --json`'s sandbox and store settings. */
export async function nixSandboxSetting(signal?: AbortSignal, env?: Record<string, string>): Promise<{ sandbox: boolean | "relaxed"; store: string }> {
  const r = await runNix(["show-config", "--json"], { cwd: process.cwd(), timeoutMs: 60_000, signal, env });
  if (r.exitCode !== 0) throw new Error(`nix show-config failed: ${failureText(r, 5)}`);
  const settings = JSON.parse(r.stdout) as Record<string, Setting | undefined>;
  const sandbox = settings.sandbox?.value;
  return { sandbox: sandbox === "relaxed" ? "relaxed" : sandbox === true, store: String(settings.store?.value ?? "auto") };
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
  const bwrapUsable = bwrap;
  if (!bwrapUsable) {
    return { kind: "refused", reason: `the Nix sandbox is off (nix show-config: sandbox = false) and bwrap cannot be used, so the crate's build scripts and tests would run unconfined: ${SANDBOX_HINT}` };
  }
  if (!localStore(store)) {
    return {
      kind: "refused",
      reason: `the Nix sandbox is off and builds run in the nix-daemon (store = ${store}), outside any bwrap Flakebot could set up: turn the sandbox on in the daemon's /etc/nix/nix.conf (sandbox = true) and restart it, or set FLAKEBOT_BACKEND=cargo`,
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
