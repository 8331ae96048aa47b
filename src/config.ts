// The environment, read once into a typed and validated Config. See contract.md.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { limitsFromEnv, type ResourceLimits } from "./exec/limits.js";
import { sandboxWritePolicy, type WritePolicy } from "./exec/sandbox.js";
import { sandboxReadPaths } from "./exec/visible.js";
import { BACKEND_NAMES, type BackendName } from "./model/backends.js";

/** nixpkgs pinned for generated flakes unless FLAKEBOT_NIXPKGS says otherwise: the newest stable release branch. */
export const DEFAULT_NIXPKGS = "github:NixOS/nixpkgs/nixos-26.05";
export const DEFAULT_GROQ_MODEL = "openai/gpt-oss-120b";

/** How long one LLM request may take, and the whole modify stage (FLAKEBOT_LLM_TIMEOUT, FLAKEBOT_MODIFY_BUDGET). */
export const DEFAULT_LLM_TIMEOUT = "180s";
export const DEFAULT_MODIFY_BUDGET = "30m";

const durationPattern = /^(\d+)\s*(ms|s|m|h|d|w)$/;

/** Parses `90s`, `15m`, `12h`, `7d`, `2w` into milliseconds. */
export function parseDuration(text: string): number {
  const m = durationPattern.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration: use a number and a unit, like 90s, 15m, 12h or 7d`);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[m[2] as "ms"];
  return Number(m[1]) * unit;
}

const EnvSchema = z.object({
  FLAKEBOT_HOME: z.string().min(1).optional(),
  XDG_STATE_HOME: z.string().min(1).optional(),
  FLAKEBOT_CRATES_IO_URL: z.url().default("https://crates.io"),
  FLAKEBOT_BACKEND: z.enum(["auto", ...BACKEND_NAMES]).default("auto"),
  FLAKEBOT_NIXPKGS: z.string().min(1).default(DEFAULT_NIXPKGS),
  FLAKEBOT_SANDBOX: z.enum(["auto", "bwrap", "off"]).default("auto"),
  FLAKEBOT_LLM: z.enum(["auto", "groq", "openai", "sampling", "none"]).default("auto"),
  FLAKEBOT_MODEL: z.string().min(1).optional(),
  FLAKEBOT_NIX_CACHE: z.string().min(1).optional(),
  FLAKEBOT_MAX_BUILDS: z.coerce.number().int().min(1).max(64).default(1),
  FLAKEBOT_SHARED_BUILD_CACHE: z.enum(["off", "sccache"]).default("off"),
  GROQ_API_KEY: z.string().min(1).optional(),
  GROQ_BASE_URL: z.url().optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  GITHUB_TOKEN: z.string().min(1).optional(),
  GITHUB_API_URL: z.url().default("https://api.github.com"),
  FLAKEBOT_IDLE_DISPOSE: z.string().optional(),
  FLAKEBOT_LLM_TIMEOUT: z.string().default(DEFAULT_LLM_TIMEOUT),
  FLAKEBOT_MODIFY_BUDGET: z.string().default(DEFAULT_MODIFY_BUDGET),
});

export interface Config {
  home: string;
  cratesIoUrl: string;
  backend: "auto" | BackendName;
  nixpkgs: string;
  nixCache?: string;
  sandbox: "auto" | "bwrap" | "off";
  llm: "auto" | "groq" | "openai" | "sampling" | "none";
  model?: string;
  maxConcurrentBuilds: number;
  /**
   * FLAKEBOT_SHARED_BUILD_CACHE: "sccache" lets crafts share compiled dependencies. Off by
   * default: a hostile build can write cache entries that later crafts link in (SECURITY.md).
   */
  sharedBuildCache: "off" | "sccache";
  groq: { apiKey?: string; baseUrl?: string };
  openai: { apiKey?: string; baseUrl?: string };
  github: { token?: string; apiUrl: string };
  idleDisposeMs?: number;
  /** Longest wait for one LLM answer. */
  llmTimeoutMs: number;
  /** Longest time the modify stage may take in all (model and builds). */
  modifyBudgetMs: number;
  /** Resource limits of sandboxed crafted programs (FLAKEBOT_LIMIT_*). */
  limits: ResourceLimits;
  /** FLAKEBOT_SANDBOX_WRITE: whether crafted tools may write to the client's MCP roots. */
  sandboxWrite: WritePolicy;
  /** FLAKEBOT_SANDBOX_READ: paths crafted tools may read besides the MCP roots. */
  sandboxRead: string[];
}

export class ConfigError extends Error {}

function readOrThrow<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as a shell user expects.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${lines.join("; ")} (see the README's table of variables)`);
  }
  const e = parsed.data;
  const stateRoot = e.XDG_STATE_HOME ?? path.join(os.homedir(), ".local", "state");
  const duration = (name: string, text: string, positive = true) => {
    try {
      const ms = parseDuration(text);
      if (positive && ms <= 0) throw new Error(`"${text}" must be longer than zero`);
      return ms;
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  };
  const idleDisposeMs = e.FLAKEBOT_IDLE_DISPOSE ? duration("FLAKEBOT_IDLE_DISPOSE", e.FLAKEBOT_IDLE_DISPOSE, false) : undefined;
  return {
    home: path.resolve(e.FLAKEBOT_HOME ?? path.join(stateRoot, "flakebot")),
    cratesIoUrl: e.FLAKEBOT_CRATES_IO_URL.replace(/\/+$/, ""),
    backend: e.FLAKEBOT_BACKEND,
    nixpkgs: e.FLAKEBOT_NIXPKGS,
    nixCache: e.FLAKEBOT_NIX_CACHE,
    sandbox: e.FLAKEBOT_SANDBOX,
    llm: e.FLAKEBOT_LLM,
    model: e.FLAKEBOT_MODEL,
    maxConcurrentBuilds: e.FLAKEBOT_MAX_BUILDS,
    sharedBuildCache: e.FLAKEBOT_SHARED_BUILD_CACHE,
    groq: { apiKey: e.GROQ_API_KEY, baseUrl: e.GROQ_BASE_URL },
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL },
    github: { token: e.GITHUB_TOKEN, apiUrl: e.GITHUB_API_URL.replace(/\/+$/, "") },
    idleDisposeMs,
    llmTimeoutMs: duration("FLAKEBOT_LLM_TIMEOUT", e.FLAKEBOT_LLM_TIMEOUT),
    modifyBudgetMs: duration("FLAKEBOT_MODIFY_BUDGET", e.FLAKEBOT_MODIFY_BUDGET),
    limits: readOrThrow(() => limitsFromEnv(env)),
    sandboxWrite: readOrThrow(() => sandboxWritePolicy(env)),
    sandboxRead: readOrThrow(() => sandboxReadPaths(env)),
  };
}
