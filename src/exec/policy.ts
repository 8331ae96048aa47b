// Each kind of process the server runs, and what it gets: its environment and the
// settings it must run with. runProcess applies this to every process, so a rule for
// "every git run" or "every cargo run" is made here and nowhere else.
import { craftedEnv, gitEnv, toolchainEnv } from "./env.js";

/**
 * git: the operator's git, in a source's repository (hostile: its .git/config may name
 * programs). cargo / nix: the build tools. crafted: a crafted program (its environment is
 * built by the caller from craftedEnv). sandbox: bwrap itself wrapping one of the others.
 * probe: a version check of an installed program.
 */
export type ProcessKind = "git" | "cargo" | "nix" | "crafted" | "sandbox" | "probe";

/**
 * Settings every git run gets ahead of its subcommand: an identity for commits, and every
 * configuration that makes git run a program switched off, so a repository's own
 * .git/config (which a source or a build script can write) never runs anything.
 */
const GIT_SETTINGS = [
  "user.name=Flakebot",
  "user.email=flakebot@localhost",
  "commit.gpgsign=false",
  "tag.gpgsign=false",
  "advice.detachedHead=false",
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.sshCommand=ssh",
  "protocol.ext.allow=never",
  "core.editor=false",
  "sequence.editor=false",
  "gc.auto=0",
  "maintenance.auto=false",
];

export function policyArgv(kind: ProcessKind, argv: string[]): string[] {
  if (kind !== "git") return argv;
  return [argv[0], ...GIT_SETTINGS.flatMap((s) => ["-c", s]), "--no-pager", ...argv.slice(1)];
}

/** The environment of a process of this kind when the caller names none. */
export function policyEnv(kind: ProcessKind): Record<string, string> {
  switch (kind) {
    case "git":
      return gitEnv();
    case "crafted":
      return craftedEnv(process.env.TMPDIR ?? "/tmp");
    default:
      return toolchainEnv();
  }
}
