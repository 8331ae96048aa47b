// tools/list from definitions computed once per tool. The SDK turns every tool's zod schemas
// into JSON Schema on every list (about 0.4 ms of CPU a tool: 2 s for 1,000 crafted tools,
// bench/scale.ts). A registered definition never changes in place, so its JSON can be kept
// from registration until the tool is removed.
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ListToolsRequestSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { normalizeObjectSchema } from "@modelcontextprotocol/sdk/server/zod-compat.js";
import { toJsonSchemaCompat } from "@modelcontextprotocol/sdk/server/zod-json-schema-compat.js";

type RegisterArgs = Parameters<McpServer["registerTool"]>;

/** The wire definition of a registered tool, as the SDK's own tools/list would give it. */
function definition(name: string, tool: RegisteredTool): Tool {
  const input = normalizeObjectSchema(tool.inputSchema);
  const output = normalizeObjectSchema(tool.outputSchema);
  return {
    name,
    title: tool.title,
    description: tool.description,
    inputSchema: (input ? toJsonSchemaCompat(input, { strictUnions: true, pipeStrategy: "input" }) : { type: "object", properties: {} }) as Tool["inputSchema"],
    ...(output ? { outputSchema: toJsonSchemaCompat(output, { strictUnions: true, pipeStrategy: "output" }) as Tool["outputSchema"] } : {}),
    annotations: tool.annotations,
    execution: tool.execution,
    _meta: tool._meta,
  };
}

/** McpServer.registerTool's own signature: what the tool files call. */
export type RegisterTool = McpServer["registerTool"];

export class ToolList {
  /** Registered tools, in order, with their definition once a list has needed it. */
  private readonly tools = new Map<string, { tool: RegisteredTool; definition?: Tool }>();
  private installed = false;

  /** `beforeList` runs before each tools/list (to drop tools another process disposed). */
  constructor(
    private readonly server: McpServer,
    private readonly beforeList?: () => Promise<void>,
  ) {}

  /** McpServer.registerTool, keeping the definition for tools/list until the tool is removed. */
  readonly register: RegisterTool = ((name: string, config: RegisterArgs[1], callback: RegisterArgs[2]) => {
    const tool = this.server.registerTool(name, config, callback);
    this.tools.set(name, { tool });
    if (!this.installed) {
      // The SDK installs its handler once, at the first registration; this one replaces it.
      this.server.server.setRequestHandler(ListToolsRequestSchema, async () => {
        await this.beforeList?.();
        return { tools: this.list() };
      });
      this.installed = true;
    }
    const remove = tool.remove.bind(tool);
    tool.remove = () => {
      this.tools.delete(name);
      remove();
    };
    return tool;
  }) as RegisterTool;

  /** Converted on the first list that needs them, not at start-up: many servers never list. */
  private list(): Tool[] {
    return [...this.tools].map(([name, entry]) => (entry.definition ??= definition(name, entry.tool)));
  }
}
