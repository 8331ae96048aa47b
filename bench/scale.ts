// 4. Scale: server start-up (spawn to the initialize response) and tools/list latency with
// 0, 10, 100 and 1,000 crafted tools registered, and the server's resident memory at each.
// The manifests are copies of a real crafted tool's manifest (the hello fixture, crafted
// through the server), each pointing at its own hard link of the real built binary.
import fs from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { benchEnv, type BenchEnv } from "./lib/env.js";
import { copyFixture } from "./lib/fixtures.js";
import { connect, craftTimed, type Connected } from "./lib/server.js";
import { rssKib } from "./lib/machine.js";
import { ms, spread, summarize, summarizeRuns, timed, type RunsSummary, type Summary } from "./lib/stats.js";
import type { Benchmark, BenchOptions } from "./lib/types.js";
import { z } from "zod";

const TEMPLATE = "bench_template";
const META_TOOLS = 4;

interface Template {
  manifest: string;
  binary: string;
}

/** Crafts hello once through the server: its manifest is the one every copy is made from. */
async function realTemplate(benv: BenchEnv): Promise<Template> {
  const c = await connect(benv.env);
  try {
    const source = await copyFixture("hello", path.join(benv.dir, "hello-src"));
    const t = await craftTimed(c, { instructions: "print text in upper case", source, name: TEMPLATE, modify: "never" });
    return { manifest: await fs.readFile(path.join(benv.home, "tools", TEMPLATE, "manifest.json"), "utf8"), binary: t.structured.build.binary };
  } finally {
    await c.close();
  }
}

async function homeWith(benv: BenchEnv, template: Template, count: number): Promise<string> {
  const home = path.join(benv.dir, "homes", String(count));
  const tools = path.join(home, "tools");
  await fs.mkdir(tools, { recursive: true, mode: 0o700 });
  for (let i = 0; i < count; i++) {
    const name = `tool_${String(i).padStart(4, "0")}`;
    const dir = path.join(tools, name);
    await fs.mkdir(path.join(dir, "bin"), { recursive: true, mode: 0o700 });
    const binary = path.join(dir, "bin", path.basename(template.binary));
    await fs.link(template.binary, binary);
    const craft = JSON.parse(template.manifest.split(TEMPLATE).join(name));
    craft.build.binary = binary;
    await fs.writeFile(path.join(dir, "manifest.json"), JSON.stringify(craft, null, 2) + "\n", { mode: 0o600 });
  }
  return home;
}

interface CountResult {
  tools: number;
  startup: Summary;
  first_list_ms: Summary;
  list: RunsSummary;
  list_bytes: number;
  /** tools/list as a plain request: the server and the wire, without the SDK Client's per-tool output-schema compilation. */
  raw_list: Summary;
  rss_after_start_kib: Summary;
  rss_after_lists_kib: Summary;
}

async function measureCount(benv: BenchEnv, home: string, count: number, opts: BenchOptions): Promise<CountResult> {
  const runs = opts.quick ? 3 : 5;
  const lists = opts.quick ? 20 : 50;
  // A slow list must not make the suite slow: each run lists for at most this long (minLists at least).
  const listBudgetMs = opts.quick ? 2_000 : 15_000;
  const minLists = opts.quick ? 3 : 5;
  const startup: number[] = [];
  const first: number[] = [];
  const listRuns: number[][] = [];
  const rssStart: number[] = [];
  const rssAfter: number[] = [];
  const rawLists: number[] = [];
  let bytes = 0;
  for (let r = 0; r < runs; r++) {
    let c: Connected | undefined;
    try {
      const started = await timed(() => connect({ ...benv.env, FLAKEBOT_HOME: home }));
      c = started.value;
      startup.push(started.ms);
      rssStart.push((await rssKib(c.pid()!)) ?? NaN);
      const f = await timed(() => c!.client.listTools());
      if (f.value.tools.length !== count + META_TOOLS) throw new Error(`tools/list gave ${f.value.tools.length} tools, expected ${count + META_TOOLS}: ${c.stderr().slice(-1000)}`);
      first.push(f.ms);
      bytes = JSON.stringify(f.value).length;
      const samples: number[] = [];
      const listStart = performance.now();
      for (let i = 0; i < lists && (i < minLists || performance.now() - listStart < listBudgetMs); i++) samples.push((await timed(() => c!.client.listTools())).ms);
      listRuns.push(samples);
      for (let i = 0; i < minLists; i++) rawLists.push((await timed(() => c!.client.request({ method: "tools/list" }, z.looseObject({})))).ms);
      rssAfter.push((await rssKib(c.pid()!)) ?? NaN);
    } finally {
      await c?.close();
    }
  }
  return {
    tools: count,
    startup: summarize(startup),
    first_list_ms: summarize(first),
    list: summarizeRuns(listRuns),
    list_bytes: bytes,
    raw_list: summarize(rawLists),
    rss_after_start_kib: summarize(rssStart),
    rss_after_lists_kib: summarize(rssAfter),
  };
}

/** The floor of any start-up: Node itself starting and exiting. */
async function nodeFloor(runs: number): Promise<Summary> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push((await timed(() => execa(process.execPath, ["-e", "0"]))).ms);
  return summarize(out);
}

export const scaleBench: Benchmark = {
  name: "scale",
  title: "Start-up, tools/list and memory with 10, 100 and 1,000 crafted tools",
  async run(opts) {
    const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto" }, { timing: false });
    try {
      const template = await realTemplate(benv);
      const node = await nodeFloor(opts.quick ? 5 : 10);
      const results: CountResult[] = [];
      for (const count of [0, 10, 100, 1000]) results.push(await measureCount(benv, await homeWith(benv, template, count), count, opts));
      const at1000 = results.find((r) => r.tools === 1000)!;
      const mib = (kib: number) => (kib / 1024).toFixed(1);
      return {
        tables: [
          {
            title: "start-up (spawn to initialize response) and tools/list, ms; RSS in MiB",
            header: ["tools", "start-up p50", "start-up range", "first list", "list p50", "list p95", "list run p50s", "raw list p50", "list size", "RSS start", "RSS after lists"],
            rows: [
              ["floor: node -e 0", ms(node.p50), `${ms(node.min)}..${ms(node.max)}`, "-", "-", "-", "-", "-", "-", "-", "-"],
              ...results.map((r) => [
                String(r.tools),
                ms(r.startup.p50),
                `${ms(r.startup.min)}..${ms(r.startup.max)}`,
                ms(r.first_list_ms.p50),
                ms(r.list.p50),
                ms(r.list.p95),
                spread(r.list.run_p50s),
                ms(r.raw_list.p50),
                `${(r.list_bytes / 1024).toFixed(0)} KiB`,
                mib(r.rss_after_start_kib.p50),
                mib(r.rss_after_lists_kib.p50),
              ]),
            ],
          },
        ],
        data: { node_start_floor: node, results },
        aims: [
          { aim: "start-up with 1,000 tools < 1 s (p50)", value: `${ms(at1000.startup.p50)} ms`, met: at1000.startup.p50 < 1000 },
          { aim: "tools/list with 1,000 tools < 50 ms (p50)", value: `${ms(at1000.list.p50)} ms (p95 ${ms(at1000.list.p95)})`, met: at1000.list.p50 < 50 },
        ],
        notes: ["raw list: tools/list sent as a plain request (parsed loosely), so the SDK Client's ajv compilation of every tool's output schema on listTools() is left out", "each tool's binary is a hard link of the one real build: the server reads manifests at start-up, not binaries"],
      };
    } finally {
      await benv.cleanup();
    }
  },
};
