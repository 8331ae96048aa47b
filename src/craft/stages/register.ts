// register: freeze the crafted tool's definition (description, input schema, binary) and
// its hash. The server registers it on the McpServer when the craft reports ready.
import type { StageFn } from "../context.js";
import { definitionSha256, describeCrafted, fileSha256, inputJsonSchema } from "../../schema/definition.js";

export const registerStage: StageFn = async (_ctx, craft) => {
  const tool_description = describeCrafted(craft);
  const binarySha = await fileSha256(craft.build!.binary);
  return {
    tool_description,
    binary_sha256: binarySha,
    definition_sha256: definitionSha256(craft.name, tool_description, inputJsonSchema(craft), binarySha),
  };
};
