// A manifest is checked before Flakebot trusts it: at load and before each run. Its binary
// must be a regular file where Flakebot puts builds (FLAKEBOT_HOME/builds, or the Nix store
// path it recorded) with the hash recorded at registration. Manifests from before binary
// hashes were recorded are checked against their definition_sha256, which covers the binary.
import fs from "node:fs/promises";
import path from "node:path";
import type { Craft } from "../model/craft.js";
import { definitionSha256, fileSha256, inputJsonSchema } from "../schema/definition.js";
import { buildsDir } from "../state/paths.js";

const NIX_STORE = (process.env.NIX_STORE_DIR || "/nix/store").replace(/\/+$/, "");

function within(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/** Where a binary may live: the build cache, or the craft's own store path. */
function allowedPlace(home: string, craft: Craft): boolean {
  const binary = craft.build!.binary;
  if (within(buildsDir(home), binary)) return true;
  const store = craft.build!.store_path;
  return !!store && path.dirname(store) === NIX_STORE && within(store, binary);
}

// Hashing a binary on every call costs milliseconds; its inode, size and mtime are a stat.
const verified = new Map<string, string>();

/** Why the manifest cannot be trusted, or undefined when it verifies. */
export async function manifestProblem(home: string, craft: Craft): Promise<string | undefined> {
  if (craft.status !== "ready") return undefined;
  const binary = craft.build?.binary;
  if (!binary || !path.isAbsolute(binary)) return "it names no absolute binary path";
  if (!allowedPlace(home, craft)) return `its binary ${binary} is outside Flakebot's builds (${buildsDir(home)} or the tool's Nix store path)`;
  let stat;
  try {
    stat = await fs.lstat(binary);
  } catch {
    return `its binary ${binary} is missing`;
  }
  if (!stat.isFile()) return `its binary ${binary} is not a regular file`;
  const seen = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  const expect = craft.binary_sha256 ?? craft.definition_sha256;
  if (!expect) return "it records neither a binary hash nor a definition hash";
  if (verified.get(binary) === `${seen}:${expect}`) return undefined;
  const sha = await fileSha256(binary);
  if (craft.binary_sha256) {
    if (sha !== craft.binary_sha256) return `its binary ${binary} does not match the sha256 recorded when it was crafted`;
  } else if (definitionSha256(craft.name, craft.tool_description ?? "", inputJsonSchema(craft), sha) !== craft.definition_sha256) {
    return `its definition (description, input schema, binary) does not match its definition_sha256`;
  }
  verified.set(binary, `${seen}:${expect}`);
  return undefined;
}
