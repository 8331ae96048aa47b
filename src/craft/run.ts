// The orchestrator: runs the stages in order over one Craft record, persisting it after
// every stage and reporting each stage change. It owns nothing else: cancellation comes
// in through ctx.signal, and what happens on ready or failure is the caller's.
import type { StageContext, StageFn } from "./context.js";
import type { Craft, Stage } from "./types.js";
import { acquireSource } from "./acquire.js";
import { buildStage, cargoPackage, testStage } from "./build.js";
import { verifyStage } from "./verify.js";
import { registerStage } from "./register.js";

export interface Step {
  stage: Stage;
  run: StageFn;
  /** The step runs only when this holds for the record so far. */
  when?: (craft: Craft) => boolean;
  message: string;
}

export interface PipelineOptions {
  backend: "nix" | "cargo";
  sandboxed: boolean;
}

const notCached = (c: Craft) => !c.build?.cached;

export function commandPipeline(opts: PipelineOptions): Step[] {
  return [
    { stage: "acquire", run: acquireSource, when: (c) => !!c.request.source, message: "getting the source" },
    { stage: "build", run: buildStage(opts.backend), message: "building with cargo" },
    { stage: "test", run: testStage, when: notCached, message: "running the crate's tests" },
    { stage: "package", run: cargoPackage, when: notCached, message: "packaging the binary" },
    { stage: "verify", run: verifyStage(opts.sandboxed), message: "checking the binary runs" },
    { stage: "register", run: registerStage, message: "registering the tool" },
  ];
}

export interface RunHooks {
  /** Persists the record (after every stage). */
  save(craft: Craft): Promise<void>;
  /** Told of every stage change. */
  stageChanged(craft: Craft): void;
}

export async function runCraft(ctx: StageContext, initial: Craft, steps: Step[], hooks: RunHooks): Promise<Craft> {
  let craft = initial;
  const update = async (patch: Partial<Craft>) => {
    craft = { ...craft, ...patch, updated_at: new Date().toISOString() };
    await hooks.save(craft);
  };
  for (const step of steps) {
    if (step.when && !step.when(craft)) continue;
    ctx.signal.throwIfAborted();
    await update({ stage: step.stage, message: step.message });
    hooks.stageChanged(craft);
    ctx.log(`== ${step.stage}: ${step.message}`);
    await update(await step.run(ctx, craft));
  }
  return craft;
}
