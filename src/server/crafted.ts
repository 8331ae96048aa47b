// Crafted tools on the McpServer: registered when a craft is ready (and at start-up from
// manifests), removed on dispose. A registered definition is never changed in place.
import type { RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RegisterTool } from "./tool-list.js";
import type { Flakebot } from "../app.js";
import type { Craft } from "../model/craft.js";
import { describeCrafted, inputSchemaFor } from "../schema/definition.js";
import { invokeOutputShape } from "../model/invoke.js";
import { errorResult, result } from "./results.js";
import { buildArgv, ParamValueError } from "../schema/argv.js";
import { invokeText } from "./tools/invoke.js";
import { asToolError } from "./errors.js";
import { log } from "../log.js";
import { registerServiceTool } from "./crafted-service.js";

export class CraftedTools {
  private readonly registered = new Map<string, RegisteredTool>();

  constructor(
    private readonly registerTool: RegisterTool,
    private readonly app: Flakebot,
  ) {}

  has(name: string): boolean {
    return this.registered.has(name);
  }

  names(): string[] {
    return [...this.registered.keys()];
  }

  register(craft: Craft): void {
    if (this.registered.has(craft.name) || craft.status !== "ready") return;
    if (craft.request.kind === "service") {
      try {
        this.registered.set(craft.name, registerServiceTool(this.registerTool, this.app, craft));
      } catch (err) {
        log.error(`could not register crafted service "${craft.name}": ${(err as Error).message}`);
      }
      return;
    }
    try {
      const tool = this.registerTool(
        craft.name,
        {
          title: `${craft.target?.bin ?? craft.name} (crafted)`,
          description: craft.tool_description ?? describeCrafted(craft),
          inputSchema: inputSchemaFor(craft),
          outputSchema: invokeOutputShape,
          annotations: {
            readOnlyHint: false,
            destructiveHint: !craft.sandboxed,
            idempotentHint: false,
            openWorldHint: !craft.sandboxed,
          },
          _meta: { "flakebot/definition_sha256": craft.definition_sha256 },
        },
        async (args: Record<string, unknown>, extra) => {
          try {
            const { args: raw, stdin, timeout_ms, raw_output, ...named } = args as { args?: string[]; stdin?: string; timeout_ms?: number; raw_output?: boolean };
            const argv = buildArgv(craft.params ?? [], named, raw ?? []);
            const out = await this.app.invoke(craft.name, { args: argv, stdin, timeout_ms, raw_output }, extra.signal);
            return result({ ...out }, invokeText(out));
          } catch (err) {
            if (err instanceof ParamValueError) return errorResult(err.message);
            return asToolError(err);
          }
        },
      );
      this.registered.set(craft.name, tool);
    } catch (err) {
      log.error(`could not register crafted tool "${craft.name}": ${(err as Error).message}`);
    }
  }

  remove(name: string): void {
    this.registered.get(name)?.remove();
    this.registered.delete(name);
  }
}
