// The discover stage: from the plan's queries (or the instructions' keywords) to a crate
// on crates.io that ships a binary, with every candidate's ranking explained.
import type { Candidate, Craft, CrateInfo } from "../../model/craft.js";
import { type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { queriesFromInstructions } from "../../discovery/keywords.js";
import {
  CratesIoClient,
  CratesIoError,
  binNames,
  newestUsableVersion,
  type CrateDetails,
  type CrateSummary,
  type CrateVersion,
} from "../../sources/cratesio.js";

export interface RankedCandidate extends Candidate {
  score: number;
  description?: string;
  bins: string[];
  repository?: string;
  license?: string;
  details: CrateDetails;
}

export interface Rejected {
  name: string;
  version: string;
  why: string;
  downloads: number;
}

export interface Ranking {
  ranked: RankedCandidate[];
  rejected: Rejected[];
}

/**
 * Lets an LLM choose among the ranked candidates (best first). Returning undefined (no LLM
 * in ctx, say) keeps the ranking's first; a throw is logged and does the same.
 */
export type PickFn = (ranked: RankedCandidate[], ctx: StageContext) => Promise<{ name: string; reason: string } | undefined>;

export interface DiscoverDeps {
  client?: CratesIoClient;
  pick?: PickFn;
  /** How many search results get their details fetched (one request each). */
  detailsLimit?: number;
  /** Results asked of each search. */
  perPage?: number;
  /** The clock for recency (tests). */
  now?: () => number;
}

const OSI_LICENSES = new Set(
  [
    "0bsd", "afl-3.0", "agpl-3.0", "apache-2.0", "apsl-2.0", "artistic-2.0", "bsd-1-clause", "bsd-2-clause",
    "bsd-3-clause", "bsl-1.0", "cddl-1.0", "ecl-2.0", "epl-1.0", "epl-2.0", "eupl-1.2", "gpl-2.0", "gpl-3.0",
    "isc", "lgpl-2.0", "lgpl-2.1", "lgpl-3.0", "mit", "mit-0", "mpl-1.1", "mpl-2.0", "ms-pl", "ncsa", "osl-3.0",
    "postgresql", "unicode-3.0", "unicode-dfs-2016", "unlicense", "upl-1.0", "zlib",
  ],
);

/** True when some alternative of the SPDX expression (`MIT OR Apache-2.0`, `MIT/Apache-2.0`) is all OSI-approved. */
export function isOsiLicense(expression: string | null | undefined): boolean {
  if (!expression) return false;
  const cleaned = expression.replace(/\bWITH\s+[\w.-]+/gi, "").replace(/[()]/g, " ");
  return cleaned.split(/\s+OR\s+|\//i).some((alternative) => {
    const ids = alternative
      .split(/\s+AND\s+/i)
      .map((id) => id.trim().toLowerCase().replace(/\+$/, "").replace(/-(only|or-later)$/, ""))
      .filter(Boolean);
    return ids.length > 0 && ids.every((id) => OSI_LICENSES.has(id));
  });
}

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean));
}

interface MatchResult {
  fraction: number;
  where: string[];
}

/** How many of the queries' words the crate's name, keywords or description contain. */
function matchQueries(details: CrateDetails, queries: string[]): MatchResult {
  const terms = [...new Set(queries.flatMap((q) => [...words(q)]))];
  if (terms.length === 0) return { fraction: 0, where: [] };
  const name = details.crate.name.toLowerCase();
  const nameWords = words(name);
  const keywords = new Set(details.keywords.flatMap((k) => [...words(k)]));
  const description = words(details.crate.description ?? "");
  const where: string[] = [];
  let matched = 0;
  for (const term of terms) {
    const places = [
      nameWords.has(term) || name.startsWith(term) ? "name" : "",
      keywords.has(term) ? "keywords" : "",
      description.has(term) ? "description" : "",
    ].filter(Boolean);
    if (places.length > 0) {
      matched += places.includes("name") ? 1.2 : 1;
      where.push(`"${term}" in ${places.join("/")}`);
    }
  }
  return { fraction: Math.min(1, matched / terms.length), where };
}

function yearsSince(date: string, now: number): number {
  const t = Date.parse(date);
  return Number.isNaN(t) ? Infinity : (now - t) / (365.25 * 86_400_000);
}

function shortRepo(url: string): string {
  return url.replace(/^https?:\/\//, "").replace(/\.git$/, "").replace(/\/+$/, "");
}

function rejectionReason(details: CrateDetails, version: CrateVersion | undefined): string {
  if (!version) return "every version is yanked";
  const newestYankedWithBin = details.versions.find((v) => v.yanked && binNames(v).length > 0);
  if (newestYankedWithBin) return `no binary in ${version.num}; the release with one (${newestYankedWithBin.num}) is yanked`;
  if (version.bin_names == null) return `crates.io does not say whether ${version.num} ships a binary`;
  return `library only (no binary in ${version.num})`;
}

/**
 * Ranks crates by how likely they are the tool the instructions ask for. A binary in the
 * newest non-yanked version is required; then a repository, an OSI license, downloads,
 * recent downloads, recency and the match of name/keywords/description with the queries
 * add up to a score. Each candidate's reason says what counted.
 */
export function rankCandidates(found: CrateDetails[], queries: string[], now = Date.now()): Ranking {
  const ranked: RankedCandidate[] = [];
  const rejected: Rejected[] = [];
  for (const details of found) {
    const version = newestUsableVersion(details.versions);
    const bins = binNames(version);
    if (!version || bins.length === 0) {
      rejected.push({ name: details.crate.name, version: version?.num ?? details.crate.max_version, why: rejectionReason(details, version), downloads: details.crate.downloads });
      continue;
    }
    const c = details.crate;
    const repository = c.repository ?? version.repository ?? undefined;
    const license = version.license ?? undefined;
    const osi = isOsiLicense(license);
    const recent = c.recent_downloads ?? 0;
    const age = yearsSince(c.updated_at, now);
    const match = matchQueries(details, queries);
    const score =
      3 +
      (repository ? 2 : 0) +
      (osi ? 1.5 : 0) +
      0.5 * Math.log10(c.downloads + 1) +
      0.5 * Math.log10(recent + 1) +
      (age <= 1 ? 1 : age <= 3 ? 0.5 : 0) +
      4 * match.fraction;
    const reason = [
      `ships ${bins.length === 1 ? "binary" : "binaries"} ${bins.join(", ")} in ${version.num}`,
      repository ? `repository ${shortRepo(repository)}` : "no repository (the published archive would be used)",
      license ? `license ${license}${osi ? " (OSI)" : " (not OSI-approved)"}` : "no license given",
      `${c.downloads.toLocaleString("en-US")} downloads (${recent.toLocaleString("en-US")} recent)`,
      `updated ${c.updated_at.slice(0, 10)}`,
      match.where.length > 0 ? `matches ${match.where.join(", ")}` : "matches none of the query words",
      `score ${score.toFixed(1)}`,
    ].join("; ");
    ranked.push({
      name: c.name,
      version: version.num,
      downloads: c.downloads,
      reason,
      score,
      description: c.description ?? undefined,
      bins,
      repository,
      license,
      details,
    });
  }
  ranked.sort((a, b) => b.score - a.score || b.downloads - a.downloads);
  return { ranked, rejected };
}

function crateInfo(c: RankedCandidate): CrateInfo {
  return { name: c.name, version: c.version, ...(c.repository ? { repository: c.repository } : {}) };
}

function toCandidate(c: RankedCandidate): Candidate {
  return { name: c.name, version: c.version, downloads: c.downloads, reason: c.reason };
}

function asCraftError(err: unknown): unknown {
  if (err instanceof CratesIoError) return new CraftError("discover", `crates.io: ${err.message}`);
  return err;
}

/** Queries the LLM plan wrote, or keywords of the instructions without one. */
function planQueries(craft: Craft, instructions: string): string[] {
  const planned = (craft as { plan?: { queries?: unknown } }).plan?.queries;
  const fromPlan = Array.isArray(planned) ? planned.filter((q): q is string => typeof q === "string" && q.trim() !== "") : [];
  return fromPlan.length > 0 ? fromPlan.slice(0, 6) : queriesFromInstructions(instructions);
}

async function namedCrate(client: CratesIoClient, name: string, ctx: StageContext): Promise<Partial<Craft>> {
  let details: CrateDetails;
  try {
    details = await client.details(name, ctx.signal);
  } catch (err) {
    if (err instanceof CratesIoError && err.status === 404) {
      throw new CraftError("discover", `there is no crate named "${name}" on crates.io: check the name, or give "source" (a local directory or git URL) instead`);
    }
    throw asCraftError(err);
  }
  const version = newestUsableVersion(details.versions);
  if (!version) throw new CraftError("discover", `every version of "${name}" on crates.io is yanked: name another crate, or give "source"`);
  if (version.bin_names && binNames(version).length === 0) {
    throw new CraftError(
      "discover",
      `"${name}" ${version.num} ships no binary (crates.io lists none; it is a library): name a crate with a binary, or give "source"`,
    );
  }
  const repository = details.crate.repository ?? version.repository ?? undefined;
  const info: CrateInfo = { name: details.crate.name, version: version.num, ...(repository ? { repository } : {}) };
  ctx.log(`discover: using the requested crate ${info.name} ${info.version}${repository ? ` (${repository})` : " (no repository)"}`);
  return {
    crate: info,
    candidates: [{ name: info.name, version: info.version, downloads: details.crate.downloads, reason: "named in the request" }],
    ...(details.crate.description?.trim() ? { description: details.crate.description.trim() } : {}),
  };
}

/** Searches every query, merges the results, and orders them by how often and how well they matched. */
async function searchAll(client: CratesIoClient, queries: string[], perPage: number, ctx: StageContext): Promise<CrateSummary[]> {
  const hits = new Map<string, { crate: CrateSummary; count: number; exact: boolean }>();
  for (const q of queries) {
    ctx.progress(`searching crates.io for "${q}"`);
    const results = await client.search(q, perPage, ctx.signal);
    ctx.log(`discover: "${q}" -> ${results.map((r) => r.name).join(", ") || "nothing"}`);
    for (const crate of results) {
      const seen = hits.get(crate.name);
      if (seen) seen.count++;
      else hits.set(crate.name, { crate, count: 1, exact: crate.exact_match === true });
    }
  }
  return [...hits.values()]
    .sort((a, b) => b.count - a.count || Number(b.exact) - Number(a.exact) || b.crate.downloads - a.crate.downloads)
    .map((h) => h.crate);
}

export function makeDiscover(deps: DiscoverDeps = {}): StageFn {
  return async (ctx, craft) => {
    if (ctx.request.source) return {};
    const client = deps.client ?? new CratesIoClient(ctx.config.cratesIoUrl);
    if (ctx.request.crate) return namedCrate(client, ctx.request.crate, ctx);

    const queries = planQueries(craft, ctx.request.instructions);
    if (queries.length === 0) {
      throw new CraftError("discover", `the instructions have no words to search crates.io with: describe the tool in a few words, or give "crate" or "source"`);
    }
    const found: CrateDetails[] = [];
    try {
      const results = await searchAll(client, queries, deps.perPage ?? 10, ctx);
      if (results.length === 0) {
        throw new CraftError(
          "discover",
          `crates.io found no crate for ${queries.map((q) => `"${q}"`).join(", ")}: describe the tool differently, or give "crate" (a crates.io name) or "source" (a local directory or git URL)`,
        );
      }
      for (const summary of results.slice(0, deps.detailsLimit ?? 6)) {
        ctx.progress(`reading ${summary.name} on crates.io`);
        try {
          found.push(await client.details(summary.name, ctx.signal));
        } catch (err) {
          if (!(err instanceof CratesIoError && err.status === 404)) throw err;
        }
      }
    } catch (err) {
      throw asCraftError(err);
    }

    const { ranked, rejected } = rankCandidates(found, queries, deps.now?.() ?? Date.now());
    if (ranked.length === 0) {
      const list = rejected.map((r) => `${r.name} ${r.version} (${r.why})`).join("; ");
      throw new CraftError(
        "discover",
        `none of the crates found for ${queries.map((q) => `"${q}"`).join(", ")} ships a binary: ${list}. ` +
          `Name a crate that has one with "crate", or give "source" (a local directory or git URL)`,
      );
    }
    const top = ranked.slice(0, 5);
    let chosen = top[0];
    if (deps.pick && top.length > 1) {
      let pick: Awaited<ReturnType<PickFn>>;
      try {
        pick = await deps.pick(top, ctx);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        ctx.log(`discover: choosing among the candidates failed (${(err as Error).message}); taking the best ranked, ${chosen.name}`);
      }
      const match = pick && top.find((c) => c.name === pick.name);
      if (pick && match) {
        chosen = match;
        if (pick.reason) match.reason = `${match.reason}; chosen: ${pick.reason}`;
      } else if (pick) {
        ctx.log(`discover: the pick "${pick.name}" is not among the candidates; taking the best ranked, ${chosen.name}`);
      }
    }
    ctx.log(`discover: chose ${chosen.name} ${chosen.version}: ${chosen.reason}`);
    if (rejected.length > 0) ctx.log(`discover: set aside ${rejected.map((r) => `${r.name} (${r.why})`).join("; ")}`);
    const others = top.filter((c) => c !== chosen);
    const setAside = rejected.slice(0, 5).map((r) => ({ name: r.name, version: r.version, downloads: r.downloads, reason: "not usable", rejected: r.why }));
    return {
      crate: crateInfo(chosen),
      candidates: [...[chosen, ...others].map(toCandidate), ...setAside],
      ...(chosen.description?.trim() ? { description: chosen.description.trim() } : {}),
    };
  };
}

export const discover: StageFn = makeDiscover();
