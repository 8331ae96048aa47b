// The environment a benchmarked server runs in: the tests' offline environment (its own
// FLAKEBOT_HOME, a CARGO_HOME over Debian's crate sources) plus a cargo, a nix and a bwrap
// on PATH that record how long each of their runs took, so a craft's time splits into the
// build tools' time and Flakebot's own.
import fs from "node:fs/promises";
import path from "node:path";
import { findOnPath } from "../../src/exec/which.js";
import { testEnv, type TestEnv } from "../../test/helpers/offline.js";

export const TOOL_LOG_VAR = "FLAKEBOT_BENCH_TOOL_LOG";

export interface BenchEnv extends TestEnv {
  /** Where the timing wrappers append "<start>\t<end>\t<what ran>" (seconds) per run. */
  toolLog: string;
  /** The same environment with the real cargo first on PATH: for the bare floor builds. */
  bareEnv: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * How each wrapper names what it ran, in bash. cargo: its subcommand. nix: the first known
 * subcommand (options come first). git: its subcommand, past -c/-C options. bwrap: the
 * command after "--" and its first argument, so a sandboxed `cargo build` is told apart
 * from a crafted binary run in the sandbox. git is Flakebot's own time; it is timed to say
 * where that time goes.
 */
const LABEL: Record<string, string> = {
  cargo: 'label="cargo $1"',
  nix: 'label="nix"; for a in "$@"; do case "$a" in build|flake|path-info|copy|store|eval|run|log|--version) label="nix $a"; break;; esac; done',
  git: 'label="git"; skip=""; for a in "$@"; do if [ -n "$skip" ]; then skip=""; continue; fi; case "$a" in -c|-C) skip=1;; -*) ;; *) label="git $a"; break;; esac; done',
  bwrap: 'label="bwrap"; next=0; for a in "$@"; do if [ $next = 1 ]; then cmd="${a##*/}"; next=2; elif [ $next = 2 ]; then label="bwrap:$cmd $a"; next=3; break; elif [ "$a" = "--" ]; then next=1; fi; done; [ $next = 2 ] && label="bwrap:$cmd"',
};

/**
 * Timing wrappers around the real cargo, nix, git and bwrap. They are shell scripts because they
 * are a benchmark's probe, not product code: bash's $EPOCHREALTIME costs no extra process,
 * so a wrapper adds well under a millisecond to each run (counted as the tool's time, not
 * Flakebot's). Inside the build sandbox /tmp is private, so cargo there is the real one;
 * the sandboxed run is timed by the bwrap wrapper around it.
 */
async function timingWrappers(dir: string): Promise<string> {
  const shimDir = path.join(dir, "timing-bin");
  await fs.mkdir(shimDir, { recursive: true });
  for (const [tool, label] of Object.entries(LABEL)) {
    const real = findOnPath(tool);
    if (!real) {
      if (tool === "cargo") throw new Error("cargo is not on PATH: install Rust (rustup) to run the benchmarks");
      continue;
    }
    const script = [
      "#!/bin/bash",
      label,
      "start=$EPOCHREALTIME",
      `${JSON.stringify(real)} "$@"`,
      "rc=$?",
      `printf '%s\\t%s\\t%s\\n' "$start" "$EPOCHREALTIME" "$label" >> "$${TOOL_LOG_VAR}"`,
      "exit $rc",
      "",
    ].join("\n");
    await fs.writeFile(path.join(shimDir, tool), script, { mode: 0o755 });
  }
  return shimDir;
}

/**
 * `timing: false` leaves the wrappers out, for benchmarks whose numbers a wrapper's own few
 * milliseconds would change (every sandboxed invocation runs bwrap).
 */
export async function benchEnv(extra: Record<string, string> = {}, opts: { timing?: boolean } = {}): Promise<BenchEnv> {
  const t = await testEnv();
  const toolLog = path.join(t.dir, "tool-times.log");
  const shimPath = opts.timing === false ? [] : [await timingWrappers(t.dir)];
  const env = { ...t.env, PATH: [...shimPath, t.env.PATH].join(":"), [TOOL_LOG_VAR]: toolLog, ...extra };
  return { ...t, env, bareEnv: { ...t.env, ...extra }, toolLog, cleanup: () => fs.rm(t.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

export interface ToolSpan {
  /** "cargo build", "nix build", "bwrap:cargo test", "bwrap:hello-upper --help"... */
  label: string;
  start: number;
  end: number;
}

/** The cargo and nix runs the wrappers recorded, in epoch milliseconds. */
export async function toolSpans(log: string): Promise<ToolSpan[]> {
  const text = await fs.readFile(log, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [s, e, label] = line.split("\t");
      return { label: label ?? "", start: Number(s) * 1000, end: Number(e) * 1000 };
    });
}

/** Whether a span is a build tool's run (cargo or nix, sandboxed or not), not Flakebot's. */
export function isBuildTool(span: ToolSpan): boolean {
  return /^(bwrap:)?(cargo|nix)\b/.test(span.label);
}

/** Milliseconds of [from, to] covered by the spans (overlapping runs counted once). */
export function timeWithin(spans: ToolSpan[], from: number, to: number): number {
  const clipped = spans
    .map((s) => [Math.max(s.start, from), Math.min(s.end, to)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reach = -Infinity;
  for (const [a, b] of clipped) {
    if (b <= reach) continue;
    total += b - Math.max(a, reach);
    reach = b;
  }
  return total;
}
