import { z } from "zod";
import type { RegisterTool } from "../tool-list.js";
import type { Flakebot } from "../../app.js";
import { disposeOutputShape } from "../schemas.js";
import { result } from "../results.js";
import { asToolError } from "../errors.js";

export const name = "dispose_tool";

export const config = {
  title: "Dispose of a crafted tool",
  description:
    "Cancels a craft still building, unregisters the crafted tool, and deletes its workspace, manifest, build (when unused elsewhere) and fork (when Flakebot made it). Says what it removed.",
  inputSchema: {
    name: z.string().min(1).max(64).describe("The crafted tool's name"),
  },
  outputSchema: disposeOutputShape,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
};

export function registerDisposeTool(registerTool: RegisterTool, app: Flakebot): void {
  registerTool(name, config, async (args) => {
    try {
      const out = await app.dispose(args.name);
      return result(out, `Disposed "${out.disposed}". Removed:\n${out.removed.map((r) => `- ${r}`).join("\n") || "- nothing else"}`);
    } catch (err) {
      return asToolError(err);
    }
  });
}
