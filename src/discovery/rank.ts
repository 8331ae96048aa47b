// Ranking crates.io candidates for a tool: a binary to run, a repository to fork, an OSI
// licence, how well the crate matches the queries, downloads and recency. Every candidate
// kept has a reason; every one rejected says why.
import type { Candidate } from "../model/craft.js";
import { binNames, newestUsableVersion, type CrateDetails, type CrateVersion } from "../sources/cratesio.js";

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
