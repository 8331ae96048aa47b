// A libtest run as read from its output (guard/test-report.ts reads it).
export interface TestRun {
  passed: number;
  failed: number;
  ignored: number;
  /** Full names of the failing tests ("tests::parses_width"), in order, without repeats. */
  failures: string[];
  /** Number of "test result:" lines seen: 0 means no test binary ran at all. */
  suites: number;
}

/** Reads a test run out of a test command's output or a build log. */
export type TestReader = (output: string) => TestRun;
