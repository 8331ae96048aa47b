// `flakebot doctor`: is this machine ready to craft tools? Checks the toolchain (cargo,
// rustc, git, nix, its flakes and what confines a nix build, bwrap and whether it can really
// build a sandbox), the LLM
// settings (never printing a key) and whether crates.io and GitHub answer, and says for
// everything missing the exact command that installs or fixes it.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Config } from "../config.js";
import { DEFAULT_GROQ_MODEL } from "../config.js";
import { runProcess, type RunResult } from "../exec/process.js";
import { redactSecrets, toolchainEnv } from "../exec/env.js";
import { providerKind } from "../llm/select.js";
import { USER_AGENT } from "../sources/cratesio.js";
import { MIN_NIX, NIX_UPGRADE, nixAvailable, oldNixAdvice } from "../backends/nix/cli.js";
import { checkSandbox, type SandboxCheck } from "../exec/sandbox.js";
import { nixConfinement } from "../backends/nix/sandbox.js";
import { findOnPath } from "../exec/which.js";
import { compareVersions, versionIn } from "../model/version.js";

export { findOnPath, MIN_NIX };

export type CheckStatus = "ok" | "warn" | "missing";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** The exact command (or setting) that installs or fixes it. */
  fix?: string;
  /** Crafting cannot work at all while this is missing. */
  required: boolean;
}

export interface DoctorReport {
  /** True when nothing required is missing (warnings allowed). */
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  /** The environment the checked programs run in (and whose PATH is searched). */
  env?: Record<string, string>;
  /** How long crates.io and GitHub get to answer. */
  networkTimeoutMs?: number;
  /** How long each program gets to answer. */
  processTimeoutMs?: number;
}

export const FIX = {
  rust: "curl https://sh.rustup.rs -sSf | sh",
  rustDefault: "rustup default stable",
  git: "apt-get install -y git",
  nix: "apt-get install -y nix-bin",
  nixUpgrade: NIX_UPGRADE,
  flakes: "mkdir -p ~/.config/nix && echo 'experimental-features = nix-command flakes' >> ~/.config/nix/nix.conf",
  bwrap: "apt-get install -y bubblewrap",
} as const;

interface Probe {
  env: Record<string, string>;
  processTimeoutMs: number;
  networkTimeoutMs: number;
}

export async function doctor(config: Config, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const probe: Probe = {
    env: opts.env ?? toolchainEnv(),
    processTimeoutMs: opts.processTimeoutMs ?? 15_000,
    networkTimeoutMs: opts.networkTimeoutMs ?? 5_000,
  };
  // One trial sandbox, for bwrap's own check and for what a nix build would run under.
  const trial = config.sandbox === "off" || !findOnPath("bwrap", probe.env) ? Promise.resolve(undefined) : checkSandbox(probe.env);
  const groups = await Promise.all([
    checkRustTool(probe, "cargo"),
    checkRustTool(probe, "rustc"),
    checkGit(probe),
    checkNix(probe, config, trial),
    checkBwrap(probe, config, trial),
    Promise.resolve([checkLlm(config)]),
    checkCratesIo(probe, config),
    checkGitHub(probe, config),
  ]);
  const checks = groups.flat();
  return { ok: checks.every((c) => !(c.required && c.status === "missing")), checks };
}

// ---------------------------------------------------------------------------------------
// Programs

function run(probe: Probe, argv: string[]): Promise<RunResult> {
  return runProcess(argv, {
    kind: "probe",
    cwd: os.tmpdir(),
    env: probe.env,
    timeoutMs: probe.processTimeoutMs,
    maxOutputBytes: 64 * 1024,
  });
}

function firstLine(r: RunResult): string {
  return redactSecrets((r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "");
}

function failure(r: RunResult): string {
  if (r.timedOut) return "did not answer in time";
  const tail = redactSecrets((r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" "));
  return `${r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`}${tail ? `: ${tail}` : ""}`;
}

async function checkRustTool(probe: Probe, name: "cargo" | "rustc"): Promise<DoctorCheck[]> {
  const bin = findOnPath(name, probe.env);
  if (!bin) {
    return [{ name, status: "missing", required: true, detail: `${name} is not on PATH: crafting builds every tool with it`, fix: FIX.rust }];
  }
  const r = await run(probe, [bin, "--version"]);
  if (r.exitCode !== 0) {
    return [{ name, status: "missing", required: true, detail: `${bin} --version ${failure(r)}`, fix: FIX.rustDefault }];
  }
  return [{ name, status: "ok", required: true, detail: `${firstLine(r)} (${bin})` }];
}

async function checkGit(probe: Probe): Promise<DoctorCheck[]> {
  const bin = findOnPath("git", probe.env);
  if (!bin) return [{ name: "git", status: "missing", required: true, detail: "git is not on PATH: crafting clones and versions every tool's source with it", fix: FIX.git }];
  const r = await run(probe, [bin, "--version"]);
  if (r.exitCode !== 0) return [{ name: "git", status: "missing", required: true, detail: `${bin} --version ${failure(r)}`, fix: FIX.git }];
  return [{ name: "git", status: "ok", required: true, detail: `${firstLine(r)} (${bin})` }];
}

/** "nix (Nix) 2.8.0" -> [2, 8, 0] (the builder's own parser, as numbers for the report). */
export function parseNixVersion(text: string): number[] | undefined {
  const v = versionIn(text);
  if (!v) return undefined;
  const parts = v.split(".").map(Number);
  while (parts.length < 3) parts.push(0);
  return parts;
}

export function versionAtLeast(have: number[], need: string): boolean {
  return compareVersions(have.join("."), need) >= 0;
}

async function checkNix(probe: Probe, config: Config, trial: Promise<SandboxCheck | undefined>): Promise<DoctorCheck[]> {
  const required = config.backend === "nix";
  const fallback = required ? "FLAKEBOT_BACKEND=nix cannot build anything" : "builds fall back to cargo (flagged not reproducible)";
  const bin = findOnPath("nix", probe.env);
  if (!bin) return [{ name: "nix", status: "missing", required, detail: `nix is not on PATH: ${fallback}`, fix: FIX.nix }];
  // The same probe the runtime uses to choose the backend.
  const status = await nixAvailable(undefined, probe.env);
  if (!status.available) return [{ name: "nix", status: "missing", required, detail: `${status.reason ?? "nix does not run"} (${bin}): ${fallback}`, fix: FIX.nix }];
  const version = parseNixVersion(status.version ?? "");
  const shown = status.version ?? "unknown";
  const checks: DoctorCheck[] = [];
  if (version && !versionAtLeast(version, MIN_NIX)) {
    checks.push({
      name: "nix",
      status: "warn",
      required: false,
      detail: `Nix ${shown} (${bin}): ${oldNixAdvice(shown)} (FLAKEBOT_NIXPKGS is ${config.nixpkgs})`,
      fix: FIX.nixUpgrade,
    });
  } else {
    checks.push({ name: "nix", status: "ok", required, detail: `Nix ${shown} (${bin})` });
  }
  checks.push(await checkFlakes(probe, bin), await checkNixSandbox(probe, config, trial));
  return checks;
}

/** Where the crate's code runs in a nix build (build scripts, proc macros, the check phase's tests), as crafts decide it. */
async function checkNixSandbox(probe: Probe, config: Config, trial: Promise<SandboxCheck | undefined>): Promise<DoctorCheck> {
  const name = "nix sandbox";
  const required = config.backend === "nix";
  const bwrap = config.sandbox === "off" ? "off" : (await trial)?.ok === true;
  let confinement;
  try {
    confinement = await nixConfinement(bwrap, undefined, probe.env);
  } catch (err) {
    return { name, status: "warn", required: false, detail: `could not read Nix's sandbox setting: ${redactSecrets((err as Error).message)}` };
  }
  switch (confinement.kind) {
    case "nix-sandbox":
      return { name, status: "ok", required, detail: "Nix's sandbox is on (nix show-config): nix builds of crafted tools rely on it (no network, only their inputs, a build user)" };
    case "bwrap":
      return { name, status: "ok", required, detail: "Nix's sandbox is off (nix show-config: sandbox = false): each nix build of a crafted tool runs under bwrap (no network, your home and FLAKEBOT_HOME hidden)" };
    case "none":
      return {
        name,
        status: "warn",
        required: false,
        detail: "Nix's sandbox is off and FLAKEBOT_SANDBOX=off: nix builds run the crate's build scripts and tests unconfined",
        fix: "set `sandbox = true` in /etc/nix/nix.conf (or NIX_CONFIG), or unset FLAKEBOT_SANDBOX",
      };
    case "refused": {
      const instead = required ? "FLAKEBOT_BACKEND=nix cannot craft" : "crafts fall back to cargo (flagged not reproducible)";
      return { name, status: required ? "missing" : "warn", required, detail: `${confinement.reason}. Nix builds are refused: ${instead}`, fix: confinement.fix };
    }
  }
}

async function checkFlakes(probe: Probe, nixBin: string): Promise<DoctorCheck> {
  // builtins.getFlake exists only while the flakes feature is on (nix.conf or NIX_CONFIG);
  // nix-instantiate is a classic command, so this needs no experimental feature itself.
  const instantiate = path.join(path.dirname(nixBin), "nix-instantiate");
  const r = await run(probe, [instantiate, "--eval", "--expr", "builtins ? getFlake"]);
  if (r.exitCode === 0 && r.stdout.trim() === "true") return { name: "nix flakes", status: "ok", required: false, detail: "the flakes and nix-command features are enabled" };
  if (r.exitCode === 0) {
    return {
      name: "nix flakes",
      status: "warn",
      required: false,
      detail: "flakes are not enabled in nix.conf (or NIX_CONFIG): enable them to build and run the generated flakes with nix yourself",
      fix: FIX.flakes,
    };
  }
  return { name: "nix flakes", status: "warn", required: false, detail: `could not ask Nix whether flakes are enabled: ${instantiate} ${failure(r)}` };
}

async function checkBwrap(probe: Probe, config: Config, trial: Promise<SandboxCheck | undefined>): Promise<DoctorCheck[]> {
  const required = config.sandbox === "bwrap";
  const bin = findOnPath("bwrap", probe.env);
  if (!bin) {
    return [{
      name: "bwrap",
      status: required ? "missing" : "warn",
      required,
      detail: required
        ? "FLAKEBOT_SANDBOX=bwrap but bwrap is not on PATH: crafted tools cannot run"
        : "bwrap is not on PATH: crafted tools will run unsandboxed (with the network and your files)",
      fix: FIX.bwrap,
    }];
  }
  if (config.sandbox === "off") {
    return [{ name: "bwrap", status: "warn", required, detail: `FLAKEBOT_SANDBOX=off: crafted tools run unsandboxed although bwrap is installed (${bin})`, fix: "unset FLAKEBOT_SANDBOX" }];
  }
  // The same trial sandbox the runtime relies on; its detail ends with general advice.
  const check = (await trial) ?? (await checkSandbox(probe.env));
  const reason = check.detail.split(": allow unprivileged")[0];
  if (check.ok) return [{ name: "bwrap", status: "ok", required, detail: check.detail }];
  return [{
    name: "bwrap",
    status: required ? "missing" : "warn",
    required,
    detail: `${reason}: crafted tools will run unsandboxed`,
    fix: /namespace|uid map|not permitted|permission denied/i.test(reason)
      ? await userNamespaceFix()
      : `bwrap --ro-bind / / --unshare-net true  # shows the error; fix what it reports`,
  }];
}

/** The setting that usually keeps bwrap from creating user namespaces on this kernel. */
async function userNamespaceFix(): Promise<string> {
  const read = (p: string) => fs.readFile(p, "utf8").then((t) => t.trim(), () => undefined);
  if ((await read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) === "1") return "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
  if ((await read("/proc/sys/kernel/unprivileged_userns_clone")) === "0") return "sysctl -w kernel.unprivileged_userns_clone=1";
  if ((await read("/proc/sys/user/max_user_namespaces")) === "0") return "sysctl -w user.max_user_namespaces=15000";
  return "chmod u+s \"$(command -v bwrap)\"";
}

// ---------------------------------------------------------------------------------------
// The LLM (settings only: a key is reported as set, never shown)

export function checkLlm(config: Config): DoctorCheck {
  const kind = providerKind(config);
  const chosen = config.llm === "auto" ? `FLAKEBOT_LLM=auto resolves to ${kind}` : `FLAKEBOT_LLM=${config.llm}`;
  const name = "llm";
  switch (kind) {
    case "groq":
      if (!config.groq.apiKey) return { name, status: "missing", required: false, detail: `${chosen} but GROQ_API_KEY is not set`, fix: "export GROQ_API_KEY=<your Groq API key>" };
      return {
        name,
        status: "ok",
        required: false,
        detail: `${chosen}: GROQ_API_KEY is set, model ${config.model ?? DEFAULT_GROQ_MODEL}, endpoint ${config.groq.baseUrl ?? "https://api.groq.com"}`,
      };
    case "openai":
      if (!config.openai.baseUrl) return { name, status: "missing", required: false, detail: `${chosen} but OPENAI_BASE_URL is not set`, fix: "export OPENAI_BASE_URL=http://127.0.0.1:11434/v1" };
      if (!config.model) return { name, status: "missing", required: false, detail: `${chosen} (${config.openai.baseUrl}) but FLAKEBOT_MODEL names no model`, fix: "export FLAKEBOT_MODEL=<a model your server has loaded>" };
      return {
        name,
        status: "ok",
        required: false,
        detail: `${chosen}: ${config.openai.baseUrl}, model ${config.model}, OPENAI_API_KEY ${config.openai.apiKey ? "is set" : "is not set (fine for a local server)"}`,
      };
    case "sampling":
      return { name, status: "ok", required: false, detail: `${chosen}: the MCP client's own model, only with clients that offer sampling (VS Code Copilot, goose, fast-agent)` };
    case "none":
      return {
        name,
        status: "warn",
        required: false,
        detail:
          config.llm === "auto"
            ? `${chosen} (no GROQ_API_KEY or OPENAI_BASE_URL; a connected client's sampling is used when it offers it): without an LLM, crates are used as published and cannot be changed`
            : `${chosen}: crates are used as published and cannot be changed`,
        fix: "export GROQ_API_KEY=<your Groq API key>",
      };
  }
}

// ---------------------------------------------------------------------------------------
// crates.io and GitHub

async function httpGet(url: string, timeoutMs: number, headers: Record<string, string>): Promise<{ status: number; body: string; ms: number } | { error: string; ms: number }> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, { headers: { "User-Agent": USER_AGENT, ...headers }, signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
    const body = (await res.text()).slice(0, 64 * 1024);
    return { status: res.status, body, ms: ms() };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { error: why, ms: ms() };
  }
}

async function checkCratesIo(probe: Probe, config: Config): Promise<DoctorCheck[]> {
  const url = `${config.cratesIoUrl}/api/v1/crates?q=x&per_page=1`;
  const r = await httpGet(url, probe.networkTimeoutMs, { Accept: "application/json" });
  const name = "crates.io";
  const fix = "check the network (or a proxy), or set FLAKEBOT_CRATES_IO_URL to a reachable mirror";
  const impact = "finding crates needs it (crafting from `source` still works)";
  if ("error" in r) return [{ name, status: "warn", required: false, detail: `${config.cratesIoUrl} did not answer (${r.error}): ${impact}`, fix }];
  let crates: unknown;
  try {
    crates = (JSON.parse(r.body) as { crates?: unknown }).crates;
  } catch {
    crates = undefined;
  }
  if (r.status !== 200 || !Array.isArray(crates)) {
    return [{ name, status: "warn", required: false, detail: `${url} answered HTTP ${r.status} without a crate list: ${impact}`, fix }];
  }
  return [{ name, status: "ok", required: false, detail: `${config.cratesIoUrl} answers (${r.ms} ms)` }];
}

async function checkGitHub(probe: Probe, config: Config): Promise<DoctorCheck[]> {
  const headers: Record<string, string> = { Accept: "application/vnd.github+json" };
  if (config.github.token) headers.Authorization = `Bearer ${config.github.token}`;
  const r = await httpGet(`${config.github.apiUrl}/`, probe.networkTimeoutMs, headers);
  const name = "github";
  if ("error" in r) {
    return [{
      name,
      status: "warn",
      required: false,
      detail: `${config.github.apiUrl} did not answer (${r.error}): forking is not possible (public upstreams are still cloned directly by git)`,
      fix: "check the network (or a proxy), or set GITHUB_API_URL",
    }];
  }
  if (config.github.token && r.status === 401) {
    return [{ name, status: "warn", required: false, detail: `${config.github.apiUrl} rejected GITHUB_TOKEN (HTTP 401): forks cannot be created`, fix: "export GITHUB_TOKEN=<a token with the public_repo scope>" }];
  }
  if (r.status >= 500) {
    return [{ name, status: "warn", required: false, detail: `${config.github.apiUrl} answered HTTP ${r.status}`, fix: "try again later, or set GITHUB_API_URL" }];
  }
  const token = config.github.token ? "GITHUB_TOKEN is set: upstreams are forked" : "no GITHUB_TOKEN: upstreams are cloned directly, without a fork";
  return [{ name, status: "ok", required: false, detail: `${config.github.apiUrl} answers (HTTP ${r.status}, ${r.ms} ms); ${token}` }];
}

// ---------------------------------------------------------------------------------------
// The report as text

export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${c.status.padEnd(7)}  ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.status !== "ok") lines.push(`${" ".repeat(9 + width + 2)}fix: ${c.fix}`);
  }
  const missing = report.checks.filter((c) => c.required && c.status === "missing").map((c) => c.name);
  const warned = report.checks.filter((c) => c.status !== "ok").length;
  lines.push("");
  lines.push(
    missing.length
      ? `Flakebot cannot craft tools until ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} fixed (commands above).`
      : warned
        ? `Flakebot can craft tools; ${warned} check${warned === 1 ? "" : "s"} above ${warned === 1 ? "needs" : "need"} attention.`
        : "Flakebot is ready: everything checked is in place.",
  );
  return redactSecrets(lines.join("\n")) + "\n";
}
