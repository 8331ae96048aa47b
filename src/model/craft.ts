import type { ModifyReport, Plan } from "./plan.js";
import type { CraftRequest } from "./request.js";
import type { BackendName } from "./backends.js";

export type { CraftRequest, ToolKind } from "./request.js";

// The records a craft works on. A Craft is what is known so far about one tool; it is
// persisted as the tool's manifest after every stage, and the MCP results are views of it.

export const STAGES = ["plan", "discover", "acquire", "modify", "build", "test", "package", "verify", "register"] as const;
export type Stage = (typeof STAGES)[number];
export type CraftStatus = "building" | "ready" | "failed";

export interface CrateInfo {
  name: string;
  version: string;
  repository?: string;
  /** The binaries crates.io lists for this version (a craft without a name is named after its one binary). */
  bins?: string[];
}

export interface Candidate {
  name: string;
  version: string;
  downloads: number;
  reason: string;
  /** Set aside, and why (no binary, every version yanked...). */
  rejected?: string;
}

export interface SourceInfo {
  /** Where the code came from: a URL, a local path, or the crates.io archive URL. */
  url: string;
  /** The tag, branch or revision checked out ("" for a plain directory copy). */
  rev: string;
  /** The upstream commit the workspace started from. */
  commit: string;
  /** The workspace's own first commit (the diff against upstream starts here). */
  base: string;
  /** The fork's URL, when this server forked the repository. */
  fork?: string;
  /** True when this server created the fork (so dispose deletes it). */
  fork_created?: boolean;
  /** Why the craft has no fork, or that the fork was the account's own: said in the ready message. */
  fork_note?: string;
  /** local directory copy, git clone, or the published .crate archive */
  origin: "directory" | "git" | "archive";
  /** The local directory had changes that were not committed (they were copied too). */
  dirty?: boolean;
  note?: string;
}

/** The Cargo package and binary target that the tool exposes. */
export interface TargetInfo {
  package: string;
  version: string;
  bin: string;
  /** The package's directory relative to the workspace root ("" for the root). */
  dir: string;
  /** True when the workspace root is a [workspace] with several members. */
  in_workspace: boolean;
  has_lockfile: boolean;
  /** The package's own description (Cargo.toml). */
  description?: string;
  /** Cargo features the build enables: those asked for and the binary's required-features. */
  features?: string[];
}

export interface BuildInfo {
  backend: BackendName;
  reproducible: boolean;
  flake_ref?: string;
  store_path?: string;
  /** Absolute path of the built binary that invocations run. */
  binary: string;
  duration_ms: number;
  /** True when an earlier build of the identical tree was reused. */
  cached?: boolean;
  /** The content key of the build: the tree hash plus what selects the binary. */
  key: string;
  /** Why the cargo backend was used when nix was asked for or expected. */
  fallback_reason?: string;
}

export interface TestCounts {
  passed: number;
  failed: number;
  acceptance_passed: number;
  acceptance_failed: number;
  /** Upstream tests that failed before any change (not counted in failed). */
  known_failures?: string[];
  /** Upstream tests the change rewrote, each named in allow_test_changes. */
  changed_upstream_tests?: string[];
  /** The acceptance tests against the upstream binary, before any change. */
  acceptance_upstream?: { passed: number; failed: number };
}

/** The upstream test run before any change: what the change gate compares each run with. */
export interface TestBaseline {
  /** Test id (`target::name`) -> its result before any change. */
  results: Record<string, "ok" | "failed" | "ignored">;
  /** Known failures the instructions ask to fix: they must pass after the change. */
  to_fix: string[];
}

/** One acceptance test: run the binary with argv/stdin and check what comes out. */
export interface AcceptanceTest {
  name: string;
  args: string[];
  stdin?: string;
  expect_exit?: number;
  /** Regular expressions that stdout must match. */
  expect_stdout?: string[];
}

export interface ServiceInfo {
  url: string;
  state: "starting" | "running" | "restarting" | "stopped" | "failed";
  restarts: number;
  port?: number;
  pid?: number;
}

export interface LlmUsage {
  provider: string;
  model?: string;
  rounds: number;
  prompt_tokens: number;
  completion_tokens: number;
  llm_ms: number;
}

/** A named parameter of a crafted tool, derived from its --help. */
export interface HelpParam {
  name: string;
  kind: "flag" | "option" | "positional";
  /** How it is written on the command line ("--width", "-n"); absent for positionals. */
  flag?: string;
  type: "boolean" | "string" | "number";
  description?: string;
  /** Required by the usage line: checked when a call uses named parameters (never by the schema). */
  required?: boolean;
  multiple?: boolean;
  /** The only values it takes (clap's possible values, a subcommand's names). */
  choices?: string[];
}

export interface Craft {
  schema: 1;
  name: string;
  /** The provisional name (from the instructions) it had until discovery chose its crate: an alias until dispose. */
  renamed_from?: string;
  status: CraftStatus;
  stage?: Stage;
  message: string;
  error?: string;
  request: CraftRequest;
  /** pid of the process crafting it while status is "building". */
  owner_pid?: number;
  /** The owner's start time (/proc/<pid>/stat field 22): a reused pid is not the owner. */
  owner_start?: string;
  created_at: string;
  updated_at: string;
  last_used_at?: string;
  crate?: CrateInfo;
  candidates?: Candidate[];
  plan?: Plan;
  modify?: ModifyReport;
  source?: SourceInfo;
  target?: TargetInfo;
  build?: BuildInfo;
  tests?: TestCounts;
  test_baseline?: TestBaseline;
  acceptance?: AcceptanceTest[];
  help?: string;
  /** How the help was printed (`["--help"]`, `[]` for no arguments). */
  help_args?: string[];
  /** The usage example verify ran and saw work. */
  example?: { call: Record<string, unknown>; argv: string[]; stdin?: string };
  params?: HelpParam[];
  description?: string;
  usage?: string;
  /** The crafted MCP tool's description, frozen at registration. */
  tool_description?: string;
  sandboxed?: boolean;
  definition_sha256?: string;
  /** sha256 of the binary at registration: checked at load and before each run. */
  binary_sha256?: string;
  service?: ServiceInfo;
  llm?: LlmUsage;
  /** The change against upstream, as a unified diff (empty when unchanged). */
  diff_stat?: string;
}
