// The craft pipeline: which stages run, in which order, and when each is skipped. Every
// stage is in craft/stages/, one file each; per-craft settings come in the StageContext.
import type { StageFn } from "./context.js";
import type { Craft, Stage } from "../model/craft.js";
import { plan } from "./stages/plan.js";
import { makeDiscover } from "./stages/discover.js";
import { llmPick } from "./pick.js";
import { acquireStage } from "./stages/acquire.js";
import { modify, wantsModify } from "./stages/modify.js";
import { buildStage } from "./stages/build.js";
import { testStage } from "./stages/test.js";
import { packageStage } from "./stages/package.js";
import { verifyStage } from "./stages/verify.js";
import { publishStage } from "./stages/publish.js";
import { registerStage } from "./stages/register.js";

export interface Step {
  stage: Stage;
  run: StageFn;
  /** The step runs only when this holds for the record so far. */
  when?: (craft: Craft) => boolean;
  message: string;
  /** The step builds (cargo, nix): it runs in a build slot, which nothing else holds. */
  builds?: boolean;
}

export interface PipelineDeps {
  /** For a service: starts it and waits for its health check, after registration. */
  startService?: StageFn;
  /** For a craft whose name came from its instructions alone: renames it after the crate discover chose. */
  nameAfterCrate?: StageFn;
}

const notCached = (c: Craft) => !c.build?.cached;

const discover = makeDiscover({ pick: llmPick });

export function craftPipeline(deps: PipelineDeps = {}): Step[] {
  const steps: Step[] = [
    { stage: "plan", run: plan, message: "planning from the instructions" },
    { stage: "discover", run: discover, when: (c) => !c.request.source, message: "searching crates.io" },
    ...(deps.nameAfterCrate ? [{ stage: "discover" as const, run: deps.nameAfterCrate, when: (c: Craft) => !!c.crate, message: "naming the tool after its crate" }] : []),
    { stage: "acquire", run: acquireStage, message: "getting the source" },
    { stage: "modify", run: modify, when: (c) => wantsModify(c.request, c.plan), message: "changing the program, proving each change with cargo build and test" },
    { stage: "build", run: buildStage, builds: true, message: "building" },
    { stage: "test", run: testStage, when: notCached, builds: true, message: "running the crate's tests" },
    { stage: "package", run: packageStage, when: notCached, builds: true, message: "packaging the build" },
    { stage: "verify", run: verifyStage, message: "checking the packaged binary and its acceptance tests" },
    { stage: "register", run: publishStage, when: (c) => !!c.source?.fork, message: "pushing the tool's branch to the fork" },
    { stage: "register", run: registerStage, message: "registering the tool" },
  ];
  if (deps.startService) {
    steps.push({ stage: "register", run: deps.startService, when: (c) => c.request.kind === "service", message: "starting the service and waiting for its health check" });
  }
  return steps;
}
