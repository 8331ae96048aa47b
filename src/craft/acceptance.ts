// Acceptance tests: run the built binary the way an agent would (through invokeBinary:
// argv only, its own scratch directory, the sandbox when on) and check the exit code and
// the patterns standard output must match.
import { invokeBinary, type InvokeOutput, type InvokeTarget } from "../exec/invoke.js";
import type { AcceptanceTest } from "../model/craft.js";

export interface AcceptanceResult extends Pick<InvokeOutput, "exit_code" | "stdout" | "stderr" | "timed_out"> {
  name: string;
  ok: boolean;
  /** Why it failed, in words a person (or an LLM) can act on. */
  problems: string[];
}

export interface AcceptanceSummary {
  passed: number;
  failed: number;
  results: AcceptanceResult[];
}

const TIMEOUT_MS = 30_000;
const KEEP = 4000;

function clip(text: string): string {
  return text.length > KEEP ? `${text.slice(0, KEEP)}\n[... ${text.length - KEEP} more characters]` : text;
}

export async function runAcceptanceTest(target: InvokeTarget, test: AcceptanceTest): Promise<AcceptanceResult> {
  const out = await invokeBinary(target, { args: test.args, stdin: test.stdin ?? "", timeout_ms: TIMEOUT_MS });
  const problems: string[] = [];
  const wantExit = test.expect_exit ?? 0;
  if (out.timed_out) problems.push(`did not finish within ${TIMEOUT_MS / 1000} s`);
  else if (out.exit_code !== wantExit) {
    problems.push(`exit code ${out.exit_code ?? `none (killed by ${out.signal})`}, expected ${wantExit}`);
  }
  for (const pattern of test.expect_stdout ?? []) {
    let re: RegExp;
    try {
      re = new RegExp(pattern, "m");
    } catch {
      problems.push(`the pattern ${JSON.stringify(pattern)} is not a valid regular expression`);
      continue;
    }
    if (!re.test(out.stdout)) problems.push(`standard output does not match ${JSON.stringify(pattern)}`);
  }
  return {
    name: test.name,
    ok: problems.length === 0,
    problems,
    exit_code: out.exit_code,
    stdout: clip(out.stdout),
    stderr: clip(out.stderr),
    timed_out: out.timed_out,
  };
}

/** Runs every test in order (they share the scratch directory, so not in parallel). */
export async function runAcceptance(target: InvokeTarget, tests: AcceptanceTest[]): Promise<AcceptanceSummary> {
  const results: AcceptanceResult[] = [];
  for (const test of tests) {
    target.signal?.throwIfAborted();
    results.push(await runAcceptanceTest(target, test));
  }
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed, results };
}
