// What every benchmark gives the runner: tables to print, data to keep, and its aims.

export interface BenchOptions {
  quick: boolean;
}

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

/** One aim from issue 8, with the value measured and whether it was met. */
export interface Aim {
  aim: string;
  value: string;
  /** null when it could not be measured in this run. */
  met: boolean | null;
}

export interface BenchOutput {
  tables: Table[];
  data: Record<string, unknown>;
  aims: Aim[];
  notes: string[];
}

export interface Benchmark {
  name: string;
  title: string;
  run(opts: BenchOptions): Promise<BenchOutput>;
}
