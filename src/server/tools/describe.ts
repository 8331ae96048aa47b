import { z } from "zod";
import type { RegisterTool } from "../tool-list.js";
import type { Flakebot } from "../../app.js";
import { describeShape } from "../schemas.js";
import { craftText, craftView } from "../../model/view.js";
import { result } from "../results.js";
import { progressReporter } from "../progress.js";
import { inputJsonSchema } from "../../schema/definition.js";
import { asToolError } from "../errors.js";
import type { Craft } from "../../model/craft.js";

export const name = "describe_tool";

export const config = {
  title: "Describe a crafted tool",
  description:
    "Shows a crafted tool or a craft in progress: status, stage, source, build, tests, usage, input schema, definition hash and the last lines of its build log. With wait_seconds, waits for a craft that is still building (a long poll).",
  inputSchema: {
    name: z.string().min(1).max(64).describe("The crafted tool's name"),
    wait_seconds: z.number().int().min(0).max(600).default(0).describe("Wait up to this long for a craft still building"),
  },
  outputSchema: describeShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

export async function describeView(app: Flakebot, craft: Craft): Promise<Record<string, unknown>> {
  return {
    ...craftView(craft),
    ...(craft.status === "ready" ? { input_schema: inputJsonSchema(craft) } : {}),
    ...(craft.definition_sha256 ? { definition_sha256: craft.definition_sha256 } : {}),
    created_at: craft.created_at,
    ...(craft.last_used_at ? { last_used_at: craft.last_used_at } : {}),
    log_tail: await app.logTail(craft.name, 30),
    ...(craft.diff_stat ? { diff_stat: craft.diff_stat } : {}),
  };
}

export function registerDescribeTool(registerTool: RegisterTool, app: Flakebot): void {
  registerTool(name, config, async (args, extra) => {
    try {
      let craft = await app.require(args.name);
      if (craft.status === "building" && args.wait_seconds > 0) {
        const reporter = progressReporter(extra, craft);
        try {
          craft = await app.wait(args.name, args.wait_seconds * 1000, (c, note) => reporter.update(c, note), extra.signal);
        } finally {
          reporter.stop();
        }
      }
      return result(await describeView(app, craft), craftText(craft));
    } catch (err) {
      return asToolError(err);
    }
  });
}
