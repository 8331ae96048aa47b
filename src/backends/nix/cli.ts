// Running the nix command: flakes switched on per call, the toolchain's environment (which
// keeps NIX_CONFIG, so a user's substituters, remote builders and offline settings apply),
// and the checks of whether the installed Nix is usable and new enough for a nixpkgs.
import { runProcess, type RunOptions, type RunResult } from "../../exec/process.js";
import { toolchainEnv } from "../../exec/env.js";
import { compareVersions, versionIn } from "../../model/version.js";

/** Flakes and the `nix` command are experimental in every Nix this supports. */
const FEATURES = ["--extra-experimental-features", "nix-command flakes"];

/** The oldest Nix with flakes and `nix store delete`: older is not usable at all. */
export const MIN_NIX_FOR_FLAKES = "2.4";
/** The Nix that current nixpkgs needs: 25.11 and later refuse an older one (lib/minver.nix). */
export const MIN_NIX = "2.18";
/** The newest nixpkgs release that still evaluates with a Nix older than 2.18. */
export const NIXPKGS_FOR_OLD_NIX = "github:NixOS/nixpkgs/nixos-25.05";
/** How to get a newer Nix than a distribution ships (Debian's nix-bin is 2.8). */
export const NIX_UPGRADE = "curl -L https://nixos.org/nix/install | sh -s -- --no-daemon";

export const INSTALL_HINT =
  "install Nix (https://nixos.org/download, or `apt-get install nix-bin` on Debian and Ubuntu), or set FLAKEBOT_BACKEND=cargo";

export type NixRun = Omit<RunOptions, "kind">;

/** The argv of a nix command, flakes switched on. */
export function nixArgv(args: string[]): string[] {
  return ["nix", ...FEATURES, ...args];
}

export function runNix(args: string[], opts: NixRun): Promise<RunResult> {
  return runProcess(nixArgv(args), {
    maxOutputBytes: 4 * 1024 * 1024,
    ...opts,
    kind: "nix",
    env: opts.env ?? toolchainEnv(),
  });
}

/** The last lines of a run's output, for error messages. */
export function outputTail(r: RunResult, lines = 30): string {
  return (r.stderr || r.stdout).trim().split("\n").slice(-lines).join("\n");
}

/** Why a nix run failed, in words: cancelled, timed out, or its output's tail. */
export function failureText(r: RunResult, lines = 30): string {
  if (r.aborted) return "it was cancelled";
  if (r.timedOut) return "it timed out";
  return outputTail(r, lines);
}

export interface NixStatus {
  available: boolean;
  /** The installed version ("2.8.0") when nix runs. */
  version?: string;
  /** Why it is not usable, and what to do. */
  reason?: string;
}

/** Environments (as JSON) in which nix was found usable, with its status: asked once per process. */
const usable = new Map<string, NixStatus>();

/**
 * Is there a nix on PATH that runs, supports flakes and reaches its store? A usable nix is
 * remembered per environment for the life of the process (each craft asks again otherwise;
 * a nix that stops working later fails its own command, with its own message).
 */
export async function nixAvailable(signal?: AbortSignal, env: Record<string, string> = toolchainEnv()): Promise<NixStatus> {
  const key = JSON.stringify(env);
  const known = usable.get(key);
  if (known) return known;
  const status = await probeNix(signal, env);
  if (status.available) usable.set(key, status);
  return status;
}

async function probeNix(signal: AbortSignal | undefined, env: Record<string, string>): Promise<NixStatus> {
  const opts = { cwd: process.cwd(), timeoutMs: 30_000, signal, env };
  const v = await runProcess(["nix", "--version"], { ...opts, kind: "probe" });
  if (v.exitCode !== 0) {
    const missing = v.exitCode === null && !v.signal && !v.timedOut && !v.aborted;
    return { available: false, reason: missing ? `nix is not on PATH: ${INSTALL_HINT}` : `\`nix --version\` failed: ${failureText(v, 5)}` };
  }
  const version = versionIn(v.stdout);
  if (!version) return { available: false, reason: `cannot read the version from \`nix --version\`: ${v.stdout.trim()}` };
  if (compareVersions(version, MIN_NIX_FOR_FLAKES) < 0) {
    return { available: false, version, reason: `Nix ${version} is too old for flakes: upgrade to Nix ${MIN_NIX_FOR_FLAKES} or newer, or set FLAKEBOT_BACKEND=cargo` };
  }
  const ping = await runNix(["store", "ping"], opts);
  if (ping.exitCode !== 0) {
    return {
      available: false,
      version,
      reason: `nix cannot reach its store (is the nix-daemon running, or /nix writable?): ${failureText(ping, 5)}`,
    };
  }
  return { available: true, version };
}

const BRANCH = /nix(?:os|pkgs)-(\d{2})\.(\d{2})/;
const ROLLING = /(?:nixos|nixpkgs)-unstable|nixpkgs\/master\b|^(?:flake:)?nixpkgs$/;

/** What to do when the installed Nix is older than a nixpkgs needs. */
export function oldNixAdvice(nixVersion: string | undefined, required = MIN_NIX, who = "nixpkgs 25.11 and later"): string {
  const installed = nixVersion ? `Nix ${nixVersion} is installed` : "the installed Nix is";
  return (
    `${who} needs Nix ${required} or newer; ${installed}, older than ${required}: ` +
    `upgrade Nix, or set FLAKEBOT_NIXPKGS=${NIXPKGS_FOR_OLD_NIX} (the last nixpkgs release that supports an older Nix); ` +
    `to upgrade a single-user Nix: ${NIX_UPGRADE}`
  );
}

/**
 * A message when the nixpkgs ref is known to need a newer Nix than the installed one
 * (release 25.11 and later, or a rolling branch), else undefined. Refs it cannot
 * date (a local path, a mirror) are left to the build, whose error is recognised too.
 */
export function nixpkgsIncompatibility(nixVersion: string, nixpkgs: string): string | undefined {
  if (compareVersions(nixVersion, MIN_NIX) >= 0) return undefined;
  const branch = BRANCH.exec(nixpkgs);
  const tooNew = branch ? Number(branch[1]) * 100 + Number(branch[2]) >= 2511 : ROLLING.test(nixpkgs);
  return tooNew ? `${oldNixAdvice(nixVersion, MIN_NIX, `nixpkgs ${nixpkgs}`)}` : undefined;
}

// nixpkgs' refusals of an old Nix, before and since 25.11 (lib/minver.nix, default.nix).
const REFUSALS = [
  /requires Nix >= ?([\d.]+\d)/,
  /requires an implementation of Nix with the following features:[\s\S]*?builtins\.nixVersion`? reports at least ([\d.]+\d)/,
];

/** nixpkgs' own refusal of the installed Nix in a nix error, in words; else undefined. */
export function nixpkgsRefusal(output: string, nixVersion?: string): string | undefined {
  for (const pattern of REFUSALS) {
    const m = pattern.exec(output);
    if (m) return `the nixpkgs in use refuses this Nix (it requires Nix >= ${m[1]}): ${oldNixAdvice(nixVersion, m[1], "it")}`;
  }
  return undefined;
}
