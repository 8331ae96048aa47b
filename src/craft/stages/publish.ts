// publish (part of register): push the tool's branch to the fork this craft made.
import type { StageFn } from "../context.js";
import { pushBranch } from "../../sources/fork.js";

export const publishStage: StageFn = async (ctx, craft) => {
  const pushed = await pushBranch(ctx, craft);
  ctx.log(`publish: ${pushed.message}`);
  return {};
};
