// The one version comparison, for crate versions and tool versions alike (semver, with
// loose input such as "2.8" or "2.24.10pre" coerced to its numbers).
import semver from "semver";

function parse(v: string): semver.SemVer {
  return semver.parse(v, { loose: true }) ?? semver.coerce(v) ?? new semver.SemVer("0.0.0");
}

/** Negative, zero or positive like a sort function; a pre-release sorts below its release. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(parse(a), parse(b));
}

export function isPrerelease(v: string): boolean {
  return (semver.parse(v, { loose: true })?.prerelease.length ?? 0) > 0;
}

/** The dotted numbers of a version as a tool prints it ("nix (Nix) 2.8.0" -> "2.8.0"). */
export function versionIn(text: string): string | undefined {
  return /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}
