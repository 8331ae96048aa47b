// A polite client for the crates.io API (https://crates.io/data-access): a User-Agent that
// names Flakebot and a contact URL, at most one request per second per host (shared by
// every client in the process), a timeout per request, bounded retries with backoff on 429
// and 5xx that honour Retry-After, and every answer validated so a malformed one is a clear
// error naming the URL.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { VERSION } from "../version.js";
import { compareVersions, isPrerelease } from "../model/version.js";

export const USER_AGENT = `flakebot/${VERSION} (+https://github.com/flakebot/flakebot)`;

const CrateSchema = z.object({
  name: z.string(),
  description: z.string().nullish(),
  repository: z.string().nullish(),
  homepage: z.string().nullish(),
  downloads: z.number(),
  recent_downloads: z.number().nullish(),
  updated_at: z.string(),
  created_at: z.string().optional(),
  max_version: z.string(),
  max_stable_version: z.string().nullish(),
  default_version: z.string().nullish(),
  keywords: z.array(z.string()).nullish(),
  categories: z.array(z.string()).nullish(),
  exact_match: z.boolean().optional(),
});

const VersionSchema = z.object({
  crate: z.string(),
  num: z.string(),
  yanked: z.boolean(),
  license: z.string().nullish(),
  crate_size: z.number().nullish(),
  checksum: z.string(),
  bin_names: z.array(z.string().nullable()).nullish(),
  has_lib: z.boolean().nullish(),
  created_at: z.string(),
  downloads: z.number(),
  dl_path: z.string().optional(),
  repository: z.string().nullish(),
});

const SearchSchema = z.object({
  crates: z.array(CrateSchema),
  meta: z.object({ total: z.number() }).optional(),
});

const DetailsSchema = z.object({
  crate: CrateSchema,
  versions: z.array(VersionSchema).nullish(),
  keywords: z.array(z.object({ keyword: z.string() })).nullish(),
});

const VersionAnswerSchema = z.object({ version: VersionSchema });

export type CrateSummary = z.infer<typeof CrateSchema>;
export type CrateVersion = z.infer<typeof VersionSchema>;
export interface CrateDetails {
  crate: CrateSummary;
  versions: CrateVersion[];
  keywords: string[];
}

export class CratesIoError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "CratesIoError";
  }
}

export interface CratesIoOptions {
  /** Minimum spacing between two requests to the same host (crates.io asks for 1 s). */
  minIntervalMs?: number;
  timeoutMs?: number;
  /** Retries after the first attempt, on 429, 5xx and network errors. */
  retries?: number;
  /** The first backoff; it doubles on every retry. */
  backoffMs?: number;
  /** A Retry-After longer than this is an error instead of a wait. */
  maxRetryAfterMs?: number;
}

/** Spaces requests to one host: each caller waits for its own slot. */
/**
 * One request at a time per host, each starting at least `intervalMs` after the previous
 * one was answered: spacing by send time alone lets a slow first connection arrive less
 * than a second before a quick second one.
 */
class RateLimiter {
  private tail: Promise<void> = Promise.resolve();
  constructor(readonly intervalMs: number) {}
  async run<T>(request: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => (release = resolve));
    try {
      await previous;
      return await request();
    } finally {
      setTimeout(release, this.intervalMs).unref();
    }
  }
}

const limiters = new Map<string, RateLimiter>();

function limiterFor(origin: string, intervalMs: number): RateLimiter {
  const key = `${origin} ${intervalMs}`;
  let limiter = limiters.get(key);
  if (!limiter) limiters.set(key, (limiter = new RateLimiter(intervalMs)));
  return limiter;
}

const CRATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const VERSION_PATTERN = /^[0-9A-Za-z.+-]{1,64}$/;

function checkName(name: string): string {
  if (!CRATE_NAME.test(name)) throw new CratesIoError(`"${name}" is not a valid crate name`, "");
  return name;
}

function checkVersion(version: string): string {
  if (!VERSION_PATTERN.test(version)) throw new CratesIoError(`"${version}" is not a valid crate version`, "");
  return version;
}

/** Seconds or an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

export class CratesIoClient {
  readonly apiBase: string;
  private readonly limiter: RateLimiter;
  private readonly opts: Required<CratesIoOptions>;

  constructor(
    readonly baseUrl: string,
    opts: CratesIoOptions = {},
  ) {
    this.apiBase = `${baseUrl.replace(/\/+$/, "")}/api/v1`;
    this.opts = {
      minIntervalMs: opts.minIntervalMs ?? 1000,
      timeoutMs: opts.timeoutMs ?? 30_000,
      retries: opts.retries ?? 3,
      backoffMs: opts.backoffMs ?? 1000,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 30_000,
    };
    this.limiter = limiterFor(new URL(this.apiBase).origin, this.opts.minIntervalMs);
  }

  async search(query: string, perPage = 10, signal?: AbortSignal): Promise<CrateSummary[]> {
    const url = `${this.apiBase}/crates?q=${encodeURIComponent(query)}&per_page=${Math.max(1, Math.min(100, perPage))}`;
    return (await this.getJson(url, SearchSchema, signal)).crates;
  }

  /** The crate, all its versions (newest first, as crates.io sends them) and its keywords. */
  async details(name: string, signal?: AbortSignal): Promise<CrateDetails> {
    const url = `${this.apiBase}/crates/${encodeURIComponent(checkName(name))}`;
    const answer = await this.getJson(url, DetailsSchema, signal);
    return {
      crate: answer.crate,
      versions: answer.versions ?? [],
      keywords: answer.keywords?.map((k) => k.keyword) ?? answer.crate.keywords ?? [],
    };
  }

  async version(name: string, version: string, signal?: AbortSignal): Promise<CrateVersion> {
    const url = `${this.apiBase}/crates/${encodeURIComponent(checkName(name))}/${encodeURIComponent(checkVersion(version))}`;
    return (await this.getJson(url, VersionAnswerSchema, signal)).version;
  }

  /** The published .crate archive (a gzipped tar), verified against `sha256` (hex). */
  async download(name: string, version: string, sha256: string, signal?: AbortSignal, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    const url = `${this.apiBase}/crates/${encodeURIComponent(checkName(name))}/${encodeURIComponent(checkVersion(version))}/download`;
    const res = await this.fetchWithRetries(url, signal, "application/gzip, application/x-tar, */*");
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > maxBytes) throw new CratesIoError(`${url}: the archive is ${declared} bytes, more than the ${maxBytes} allowed`, url);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxBytes) throw new CratesIoError(`${url}: the archive is more than the ${maxBytes} bytes allowed`, url);
    const actual = createHash("sha256").update(body).digest("hex");
    if (actual !== sha256.toLowerCase()) {
      throw new CratesIoError(
        `the archive of ${name} ${version} from ${url} does not match its published checksum (expected sha256 ${sha256}, got ${actual}); it was not used`,
        url,
      );
    }
    return body;
  }

  private async getJson<T>(url: string, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    const res = await this.fetchWithRetries(url, signal, "application/json");
    const text = await res.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new CratesIoError(`${url} did not answer with JSON (it began ${JSON.stringify(text.slice(0, 80))}); is FLAKEBOT_CRATES_IO_URL a crates.io API?`, url, res.status);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new CratesIoError(`${url} answered JSON that is not the crates.io API's shape (${describeIssues(parsed.error)})`, url, res.status);
    }
    return parsed.data;
  }

  private async fetchWithRetries(url: string, signal: AbortSignal | undefined, accept: string): Promise<Response> {
    const { retries, backoffMs, maxRetryAfterMs, timeoutMs } = this.opts;
    let lastProblem = "";
    for (let attempt = 0; attempt <= retries; attempt++) {
      signal?.throwIfAborted();
      let res: Response;
      try {
        res = await this.limiter.run(() => {
          const timeout = AbortSignal.timeout(timeoutMs);
          return fetch(url, {
            headers: { "User-Agent": USER_AGENT, Accept: accept },
            redirect: "follow",
            signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          });
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        const e = err as Error & { cause?: { code?: string } };
        lastProblem = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ""}`;
        if (attempt < retries) await sleep(backoffMs * 2 ** attempt, undefined, { signal });
        continue;
      }
      if (res.ok) return res;
      const retryable = res.status === 429 || res.status >= 500;
      await res.body?.cancel().catch(() => {});
      if (res.status === 404) throw new CratesIoError(`${url}: not found on crates.io (404)`, url, 404);
      if (!retryable) throw new CratesIoError(`${url} answered ${res.status} ${res.statusText}`, url, res.status);
      lastProblem = `${res.status} ${res.statusText}`;
      if (attempt === retries) break;
      const asked = parseRetryAfter(res.headers.get("retry-after"));
      if (asked !== undefined && asked > maxRetryAfterMs) {
        throw new CratesIoError(
          `${url} answered ${res.status} and asks to wait ${Math.ceil(asked / 1000)} s before retrying; try again later`,
          url,
          res.status,
        );
      }
      await sleep(asked ?? backoffMs * 2 ** attempt, undefined, { signal });
    }
    throw new CratesIoError(
      `${url} failed ${retries + 1} times (last: ${lastProblem}); crates.io may be down or unreachable: try again later, or give "source" instead`,
      url,
    );
  }
}

/** The newest version that is not yanked, preferring releases over pre-releases. */
export function newestUsableVersion(versions: CrateVersion[]): CrateVersion | undefined {
  const live = versions.filter((v) => !v.yanked);
  const releases = live.filter((v) => !isPrerelease(v.num));
  const pool = releases.length > 0 ? releases : live;
  return [...pool].sort((a, b) => compareVersions(b.num, a.num))[0];
}

export function binNames(version: CrateVersion | undefined): string[] {
  return (version?.bin_names ?? []).filter((b): b is string => typeof b === "string" && b.length > 0);
}
