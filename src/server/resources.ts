// Each crafted tool's provenance as MCP resources: flakebot://tools/{name}/{part} for
// flake.nix, the diff against upstream, the build log and the manifest.
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Flakebot } from "../app.js";

export const RESOURCE_PARTS = ["flake.nix", "diff", "build-log", "manifest"] as const;
type Part = (typeof RESOURCE_PARTS)[number];

const MIME: Record<Part, string> = {
  "flake.nix": "text/x-nix",
  diff: "text/x-diff",
  "build-log": "text/plain",
  manifest: "application/json",
};

export function resourceUri(name: string, part: Part): string {
  return `flakebot://tools/${name}/${part}`;
}

export function registerResources(server: McpServer, app: Flakebot): void {
  const template = new ResourceTemplate("flakebot://tools/{name}/{part}", {
    list: async () => {
      const resources = [];
      for (const craft of await app.list()) {
        for (const part of RESOURCE_PARTS) {
          if (part === "flake.nix" && craft.build?.backend !== "nix") continue;
          resources.push({ uri: resourceUri(craft.name, part), name: `${craft.name} ${part}`, mimeType: MIME[part] });
        }
      }
      return { resources };
    },
    complete: {
      part: () => [...RESOURCE_PARTS],
    },
  });
  server.registerResource(
    "crafted-tool-files",
    template,
    { title: "Crafted tool provenance", description: "flake.nix, the diff against upstream, the build log and the manifest of each crafted tool" },
    async (uri, variables) => {
      const name = String(variables.name);
      const part = String(variables.part) as Part;
      if (!RESOURCE_PARTS.includes(part)) throw new Error(`unknown part "${part}": one of ${RESOURCE_PARTS.join(", ")}`);
      const text = await app.provenance(name, part);
      return { contents: [{ uri: uri.href, mimeType: MIME[part], text }] };
    },
  );
}
