// The orchestrator: runs the stages in order over one Craft record, persisting it after
// every stage and reporting each stage change. It owns nothing else: cancellation comes
// in through ctx.signal, and what happens on ready or failure is the caller's.
import { inBuildSlot, type StageContext } from "./context.js";
import type { Craft } from "../model/craft.js";
import type { Step } from "./pipeline.js";

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
    const current = craft;
    await update(await (step.builds ? inBuildSlot(ctx, () => step.run(ctx, current)) : step.run(ctx, current)));
  }
  return craft;
}
