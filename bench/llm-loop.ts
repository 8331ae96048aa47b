// 6. The LLM loop: Flakebot's own time per repair round of the modify stage, excluding the
// LLM's time and cargo's. The LLM is the tests' scripted chat-completions stand-in on
// loopback, reached through the real groq-sdk: it plans, answers round 1 with an edit that
// does not compile, and round 2 with the fix (the repair round).
import fs from "node:fs/promises";
import path from "node:path";
import { craftPipeline } from "../src/craft/pipeline.js";
import type { Craft } from "../src/model/craft.js";
import { startLlmStandIn } from "../test/fixtures/far-ends/llm.js";
import { benchEnv, isBuildTool, timeWithin, toolSpans } from "./lib/env.js";
import { fixtureVariant } from "./lib/fixtures.js";
import { connect, craftTimed, type Connected } from "./lib/server.js";
import { ms, summarize } from "./lib/stats.js";
import type { Benchmark, BenchOutput } from "./lib/types.js";

const REVERSE = { name: "reverses with --reverse", args: ["--reverse", "abc"], expect_stdout: ["^CBA$"] };
const PLAN = { queries: ["upper"], behaviour: "Upper-cases text; with --reverse also reverses it.", crate_alone_enough: false, acceptance: [REVERSE] };

const answer = (summary: string, edits: object[]) => JSON.stringify({ summary, read: [], edits });
const EDITS = [
  {
    path: "src/main.rs",
    search: `    let words: Vec<&String> = args.iter().filter(|a| *a != "-n" && *a != "--no-newline").collect();`,
    replace: `    let reverse = args.iter().any(|a| a == "--reverse");\n    let words: Vec<&String> = args.iter().filter(|a| *a != "-n" && *a != "--no-newline" && *a != "--reverse").collect();`,
  },
  {
    path: "src/main.rs",
    search: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}\n",
    replace: "fn upper(text: &str) -> String {\n    text.to_uppercase()\n}\n\nfn reversed(text: &str) -> String {\n    text.chars().rev().collect()\n}\n",
  },
  {
    path: "src/main.rs",
    search: `    let _ = write!(out, "{}", upper(&text));`,
    // Round 1's mistake: a type the compiler rejects; round 2 repairs it.
    replace: `    let shown: u32 = if reverse { reversed(&upper(&text)) } else { upper(&text) };\n    let _ = write!(out, "{}", shown);`,
  },
  {
    path: "src/main.rs",
    search: "    #[test]\n    fn keeps_symbols() {",
    replace: '    #[test]\n    fn reverses() {\n        assert_eq!(super::reversed("abc"), "cba");\n    }\n\n    #[test]\n    fn keeps_symbols() {',
  },
];
const FIX = [{ path: "src/main.rs", search: "let shown: u32 =", replace: "let shown =" }];

function modifyWired(): boolean {
  return craftPipeline().some((s) => s.stage === "modify");
}

interface LoopRun {
  rounds: number;
  modify_ms: number;
  cargo_ms: number;
  llm_ms: number;
  own_per_round_ms: number;
}

export const llmLoopBench: Benchmark = {
  name: "llm-loop",
  title: "LLM repair loop: Flakebot's own time per round (scripted LLM stand-in)",
  async run(opts): Promise<BenchOutput> {
    if (!modifyWired()) {
      return { tables: [], data: { measured: false }, aims: [], notes: ["not measured yet: the modify stage is not in the craft pipeline (src/craft/run.ts)"] };
    }
    const reps = opts.quick ? 1 : 3;
    const standIn = await startLlmStandIn();
    const benv = await benchEnv({ FLAKEBOT_SANDBOX: "auto", FLAKEBOT_LLM: "groq", GROQ_API_KEY: "gsk_bench_not_a_real_key_000000", GROQ_BASE_URL: standIn.url });
    let c: Connected | undefined;
    try {
      c = await connect(benv.env);
      const runs: LoopRun[] = [];
      for (let i = 0; i < reps; i++) {
        const name = `reverse_${i}`;
        const source = await fixtureVariant("hello", path.join(benv.dir, "src", name), name);
        standIn.push(JSON.stringify(PLAN), answer("add --reverse", EDITS), answer("fix the type", FIX));
        const t = await craftTimed(c, { instructions: "Upper-case text; --reverse also reverses it.", source, name, modify: "always" });
        const craft = JSON.parse(await fs.readFile(path.join(benv.home, "tools", name, "manifest.json"), "utf8")) as Craft;
        const stage = t.stages.find((s) => s.stage === "modify");
        if (!stage || !craft.modify) throw new Error(`the craft ran no modify stage: ${JSON.stringify(t.stages)}`);
        const spans = (await toolSpans(benv.toolLog)).filter(isBuildTool);
        const cargo = timeWithin(spans, stage.start_epoch, stage.start_epoch + stage.ms);
        // llm_ms covers every LLM call of the craft, the plan's too: the own time is if anything understated.
        const llm = craft.llm?.llm_ms ?? 0;
        const rounds = craft.modify.rounds;
        runs.push({ rounds, modify_ms: stage.ms, cargo_ms: cargo, llm_ms: llm, own_per_round_ms: Math.max(0, stage.ms - cargo - llm) / rounds });
      }
      const own = summarize(runs.map((r) => r.own_per_round_ms));
      const p50 = (f: (r: LoopRun) => number) => ms(summarize(runs.map(f)).p50);
      return {
        tables: [
          {
            title: "modify stage with a scripted LLM (plan, a broken edit, its repair), median ms",
            header: ["runs", "rounds", "modify stage", "cargo in it", "LLM calls", "Flakebot own per round"],
            rows: [[String(runs.length), p50((r) => r.rounds), p50((r) => r.modify_ms), p50((r) => r.cargo_ms), p50((r) => r.llm_ms), ms(own.p50)]],
          },
        ],
        data: { runs, own_per_round: own },
        aims: [],
        notes: ["the issue sets no number for this one; LLM time is the groq-sdk calls to the loopback stand-in (plan included)"],
      };
    } finally {
      await c?.close();
      await benv.cleanup();
      await standIn.close();
    }
  },
};
