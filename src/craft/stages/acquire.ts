// acquire: the source as a git workspace on the branch flakebot/<tool>: from the request's
// `source` (a local directory or a git URL), or from the crate discover chose.
import type { StageFn } from "../context.js";
import { acquireSource } from "../acquire/from-source.js";
import { acquireCrate } from "../acquire/from-crate.js";

export const acquireStage: StageFn = (ctx, craft) => (ctx.request.source ? acquireSource(ctx, craft) : acquireCrate(ctx, craft));
