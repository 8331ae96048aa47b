// Reading a libtest run (cargo test's output, or a Nix build log carrying it): how many tests
// passed, failed and were ignored, and the names of the failing ones. A minimal version the
// gate's fuller parser replaces; the Nix backend only needs this interface.

import type { TestRun } from "../model/test-run.js";

export type { TestRun } from "../model/test-run.js";

const RESULT_LINE = /^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/;
const FAILED_LINE = /^test (.+) \.\.\. FAILED$/;

export function parseTestRun(output: string): TestRun {
  const run: TestRun = { passed: 0, failed: 0, ignored: 0, failures: [], suites: 0 };
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    const r = RESULT_LINE.exec(line);
    if (r) {
      run.passed += Number(r[1]);
      run.failed += Number(r[2]);
      run.ignored += Number(r[3]);
      run.suites++;
      continue;
    }
    const f = FAILED_LINE.exec(line);
    if (f && !run.failures.includes(f[1])) run.failures.push(f[1]);
  }
  return run;
}
