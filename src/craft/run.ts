// The orchestrator: runs the stages in order over one Craft record, persisting it after
// every stage and reporting each stage change. It owns nothing else: cancellation comes
// in through ctx.signal, and what happens on ready or failure is the caller's.
import { inBuildSlot, type StageContext, type StageFn } from "./context.js";
import type { Craft, Stage } from "../model/craft.js";
import { plan } from "./stages/plan.js";
import { makeDiscover } from "./stages/discover.js";
import { llmPick } from "../discovery/pick.js";
import { acquireSource } from "./acquire/from-source.js";
import { acquireCrate, pushBranch } from "./acquire/from-crate.js";
import { modify, wantsModify } from "./stages/modify.js";
import { buildStage, cargoPackage, testStage } from "./stages/build.js";
import { nixOrCargoPackage } from "./stages/package.js";
import { verifyStage } from "./stages/verify.js";
import { registerStage } from "./stages/register.js";

export interface Step {
  stage: Stage;
  run: StageFn;
  /** The step runs only when this holds for the record so far. */
  when?: (craft: Craft) => boolean;
  message: string;
  /** The step builds (cargo, nix): it runs in a build slot. */
  builds?: boolean;
}

export interface PipelineOptions {
  backend: "nix" | "cargo";
  /** With FLAKEBOT_BACKEND=auto a failed Nix build falls back to cargo, flagged. */
  fallbackToCargo: boolean;
  sandboxed: boolean;
  /** For a service: starts it and waits for its health check, after registration. */
  startService?: StageFn;
}

const notCached = (c: Craft) => !c.build?.cached;

const discover = makeDiscover({ pick: llmPick });

const acquire: StageFn = (ctx, craft) => (ctx.request.source ? acquireSource(ctx, craft) : acquireCrate(ctx, craft));

const publish: StageFn = async (ctx, craft) => {
  const pushed = await pushBranch(ctx, craft);
  ctx.log(`publish: ${pushed.message}`);
  return {};
};

export function craftPipeline(opts: PipelineOptions): Step[] {
  const steps: Step[] = [
    { stage: "plan", run: plan, message: "planning from the instructions" },
    { stage: "discover", run: discover, when: (c) => !c.request.source, message: "searching crates.io" },
    { stage: "acquire", run: acquire, message: "getting the source" },
    { stage: "modify", run: modify, when: (c) => wantsModify(c.request, c.plan), message: "changing the program, proving each change with cargo build and test" },
    { stage: "build", run: buildStage(opts.backend), builds: true, message: `building (${opts.backend} backend)` },
    { stage: "test", run: testStage, when: notCached, builds: true, message: "running the crate's tests" },
    {
      stage: "package",
      run: opts.backend === "nix" ? nixOrCargoPackage(opts.fallbackToCargo) : cargoPackage,
      when: notCached,
      builds: true,
      message: opts.backend === "nix" ? "building the Nix flake" : "packaging the binary",
    },
    { stage: "verify", run: verifyStage(opts.sandboxed), message: "checking the packaged binary and its acceptance tests" },
    { stage: "register", run: publish, when: (c) => !!c.source?.fork, message: "pushing the tool's branch to the fork" },
    { stage: "register", run: registerStage, message: "registering the tool" },
  ];
  if (opts.startService) steps.push({ stage: "register", run: opts.startService, message: "starting the service and waiting for its health check" });
  return steps;
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
    const current = craft;
    await update(await (step.builds ? inBuildSlot(ctx, () => step.run(ctx, current)) : step.run(ctx, current)));
  }
  return craft;
}
