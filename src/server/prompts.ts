// The MCP prompt `craft-a-tool`: the steps of crafting, waiting and using a tool.
import { z } from "zod";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { renderPrompt } from "../llm/prompts.js";

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    "craft-a-tool",
    {
      title: "Craft a tool with Flakebot",
      description: "Guides you through crafting the tool you are missing, waiting for it, calling it and disposing of it.",
      argsSchema: {
        need: z.string().describe("What the tool must do, in plain words"),
        source: z.string().optional().describe("A local cargo project or git URL to start from (optional)"),
      },
    },
    ({ need, source }) => ({
      messages: [
        {
          role: "user",
          content: {
            type: "text",
            text: renderPrompt("craft-a-tool", "user", {
              need,
              source_hint: source ? `, and "source": ${JSON.stringify(source)}` : " (Flakebot searches crates.io; give `crate` or `source` if you know a starting point)",
            }),
          },
        },
      ],
    }),
  );
}
