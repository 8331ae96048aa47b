// The discover stage: from the plan's queries (or the instructions' keywords) to a crate
// on crates.io that ships a binary, with every candidate's ranking explained.
import type { Candidate, Craft, CrateInfo } from "../../model/craft.js";
import { type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { queriesFromInstructions } from "../../discovery/keywords.js";
import { rankCandidates, type RankedCandidate } from "../../discovery/rank.js";
import {
  CratesIoClient,
  CratesIoError,
  binNames,
  newestUsableVersion,
  type CrateDetails,
  type CrateSummary,
} from "../../sources/cratesio.js";

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

function crateInfo(c: RankedCandidate): CrateInfo {
  return { name: c.name, version: c.version, ...(c.repository ? { repository: c.repository } : {}), bins: c.bins };
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
  const info: CrateInfo = { name: details.crate.name, version: version.num, ...(repository ? { repository } : {}), bins: binNames(version) };
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
