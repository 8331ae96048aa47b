import { z } from "zod";
import type { RegisterTool } from "../tool-list.js";
import type { Flakebot } from "../../app.js";
import { craftStatusShape } from "../schemas.js";
import { craftText, craftView } from "../../model/view.js";
import { result } from "../results.js";
import { progressReporter } from "../progress.js";
import { craftRequestShape } from "../../model/request.js";
import { asToolError } from "../errors.js";

export const name = "craft_tool";

export const config = {
  title: "Craft a tool",
  description: [
    "Make the tool you are missing: Flakebot takes a Rust program (a local cargo project or git URL in `source`, or a crates.io `crate`),",
    "builds it, runs its tests, and registers the binary as a new MCP tool you can call.",
    "Waits up to wait_seconds (default 45); if the craft is not done it returns status \"building\": poll describe_tool with wait_seconds.",
    "The result's `usage` says how to call the new tool directly and through invoke_tool.",
  ].join(" "),
  inputSchema: {
    ...craftRequestShape,
    wait_seconds: z.number().int().min(0).max(600).default(45).describe("How long this call waits before returning status \"building\""),
  },
  outputSchema: craftStatusShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
};

export function registerCraftTool(registerTool: RegisterTool, app: Flakebot): void {
  registerTool(name, config, async (args, extra) => {
    try {
      const { wait_seconds, ...request } = args;
      const started = await app.craft(request);
      const reporter = progressReporter(extra, started);
      try {
        const craft = await app.wait(started.name, wait_seconds * 1000, (c, note) => reporter.update(c, note), extra.signal);
        return result(craftView(craft), craftText(craft), craft.status === "failed");
      } finally {
        reporter.stop();
      }
    } catch (err) {
      return asToolError(err);
    }
  });
}
