// Order statistics of timing samples: medians and p95 over all samples, and the spread of
// the per-run medians (how much one run differs from the next under the machine's load).

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
  stdev: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n ? sorted.reduce((s, x) => s + x, 0) / n : NaN;
  const variance = n > 1 ? sorted.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return {
    n,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean,
    min: sorted[0] ?? NaN,
    max: sorted[n - 1] ?? NaN,
    stdev: Math.sqrt(variance),
  };
}

export interface RunsSummary extends Summary {
  /** The median of each run, in run order. */
  run_p50s: number[];
}

/** All runs' samples pooled, plus each run's own median. */
export function summarizeRuns(runs: number[][]): RunsSummary {
  return { ...summarize(runs.flat()), run_p50s: runs.map((r) => summarize(r).p50) };
}

/** Milliseconds for a table cell: 3 significant digits, at most 2 decimals. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "-";
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** "min..max" of the per-run medians. */
export function spread(values: number[]): string {
  if (values.length === 0) return "-";
  return `${ms(Math.min(...values))}..${ms(Math.max(...values))}`;
}

export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : "-";
}

/** Times an async function in milliseconds (monotonic clock). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}
