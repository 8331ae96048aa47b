// The crate's test run as a backend reads it from its build log (the Nix check phase).
export interface CheckRun {
  passed: number;
  failed: number;
  ignored: number;
  /** The failing tests as the gate names them: `target::name` ("src/main.rs::tests::counts"). */
  failures: string[];
  /** Test binaries that printed their summary: 0 means no test binary ran at all. */
  suites: number;
  /** Why the run refuses the change under the gate (an upstream test that passed no longer runs), if it does. */
  problem?: string;
}

/** Reads a test run out of a build log (the gate's parser, handed to backends by the package stage). */
export type TestReader = (output: string) => CheckRun;

/** The known failure of an unmodified crate whose own tests do not compile here, with the first error. */
export function testsDoNotCompile(firstError: string): string {
  return `the crate's tests do not compile here (${firstError.trim().slice(0, 200)})`;
}
