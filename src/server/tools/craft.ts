import { z } from "zod";
import type { RegisterTool } from "../tool-list.js";
import type { Flakebot } from "../../app.js";
import { craftStatusShape } from "../schemas.js";
import { craftText, craftView, result } from "../../model/view.js";
import { progressReporter } from "../progress.js";
import { NAME_PATTERN } from "../../model/names.js";
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
    instructions: z.string().min(1).max(20000).describe("What the tool must do, in plain words"),
    name: z.string().regex(NAME_PATTERN).optional().describe("The MCP tool name to register (lowercase, digits, underscores); derived from the crate or binary when absent"),
    crate: z.string().min(1).max(64).optional().describe("Start from this crates.io crate (skips discovery)"),
    source: z.string().min(1).max(4096).optional().describe("Start from a local directory or a git URL (https, ssh, file)"),
    rev: z.string().min(1).max(256).optional().describe("Git revision (branch, tag or commit) of `source`"),
    package: z.string().min(1).max(128).optional().describe("Which workspace package to build"),
    bin: z.string().min(1).max(128).optional().describe("Which binary target to expose"),
    features: z
      .array(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_+./-]{0,127}$/, "a Cargo feature name (letters, digits, _ - + . /)"))
      .max(64)
      .optional()
      .describe("Cargo features to enable; the chosen binary's required-features are enabled without being named"),
    modify: z.enum(["auto", "never", "always"]).default("auto").describe("Whether the LLM may change the code"),
    kind: z.enum(["command", "service"]).default("command").describe("A command runs once per call; a service is a long-running program Flakebot supervises"),
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
