import { z } from "zod";
import type { RegisterTool } from "../tool-list.js";
import type { Flakebot } from "../../app.js";
import { invokeOutputShape } from "../../model/invoke.js";
import { result } from "../results.js";
import { rawInputShape } from "../../schema/definition.js";
import type { InvokeOutput } from "../../exec/invoke.js";
import { asToolError } from "../errors.js";

export const name = "invoke_tool";

export const config = {
  title: "Run a crafted tool",
  description:
    "Runs any crafted tool by name, for clients that do not refresh their tool list. args is the argv (never a shell), stdin the input; a non-zero exit code is a normal result. Output is capped at 1 MiB per stream.",
  inputSchema: {
    name: z.string().min(1).max(64).describe("The crafted tool's name"),
    ...rawInputShape,
  },
  outputSchema: invokeOutputShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

export function invokeText(out: InvokeOutput): string {
  const status = out.timed_out ? `timed out after ${out.duration_ms} ms` : out.signal ? `killed by ${out.signal}` : `exit code ${out.exit_code}`;
  const parts = [...(out.note ? [out.note] : []), `${status}${out.truncated ? " (output truncated)" : ""}`];
  if (out.stdout) parts.push(`stdout:\n${out.stdout}`);
  if (out.stderr) parts.push(`stderr:\n${out.stderr}`);
  return parts.join("\n");
}

export function registerInvokeTool(registerTool: RegisterTool, app: Flakebot): void {
  registerTool(name, config, async (args, extra) => {
    try {
      const { name: tool, ...input } = args;
      const out = await app.invoke(tool, input, extra.signal);
      return result({ ...out }, invokeText(out));
    } catch (err) {
      return asToolError(err);
    }
  });
}
