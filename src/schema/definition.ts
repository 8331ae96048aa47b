// A crafted tool's MCP definition: its input schema and description, and the hash that
// pins them together with the binary so a client can tell the definition never changed.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { z } from "zod";
import type { Craft } from "../model/craft.js";
import { MAX_TIMEOUT_MS, STDIN_MAX_CHARS } from "../exec/invoke.js";
import { ARGV_ORDER, paramsToZodShape, strictInput, usableParams } from "./argv.js";
import { serviceInputShape } from "../service/shape.js";

export const rawInputShape = {
  args: z
    .array(z.string().max(131072).regex(/^[^\u0000]*$/, "an argument cannot contain a NUL byte (the kernel cannot pass it)"))
    .max(4096)
    .optional()
    .describe("Arguments passed to the program as an argv array (never through a shell)"),
  // Below the 10 MiB a JSON-RPC message may be (server/stdio.ts), with room for escaping.
  stdin: z.string().max(STDIN_MAX_CHARS).optional().describe("Text written to the program's standard input (at most 8 MiB)"),
  timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional().describe("Kill the program after this many milliseconds (default 60000)"),
  raw_output: z.boolean().optional().describe("Keep terminal escape sequences (colours) in stdout and stderr; by default they are removed"),
};

export function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (d) => hash.update(d))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** sha256 over name, description, input schema and the binary's own hash. */
export function definitionSha256(name: string, description: string, inputSchema: unknown, binarySha: string): string {
  return createHash("sha256").update(JSON.stringify([name, description, inputSchema, binarySha])).digest("hex");
}

export function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Text as one sentence that ends with a full stop. */
export function asSentence(text: string, max = 300): string {
  const line = oneLine(text, max).replace(/[\s:;,…-]+$/, "");
  if (!line) return line;
  const first = line[0].toUpperCase() + line.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** A line that is part of a usage synopsis, not prose: "or: date [-u]", "lalrpop (-V | --version)". */
const SYNOPSIS = /^(usage|or)\b|[[\]<>{}|]|^\S+ -/i;

/**
 * The program's one-line summary from its help: the first line that reads like a sentence,
 * never a usage line, a section header, a table row or the name-and-version line.
 */
export function summaryFrom(help: string): string | undefined {
  return help
    .split("\n")
    .map((l) => ({ raw: l, text: l.trim() }))
    .find(
      ({ raw, text }) =>
        text.split(/\s+/).length >= 3 &&
        !/^(usage|options|arguments|flags|commands|examples?)\b/i.test(text) &&
        !/^[\w-]+ v?\d+\.\d+/.test(text) &&
        !SYNOPSIS.test(text) &&
        !/^-/.test(text) &&
        !/\S {2,}\S/.test(text) &&
        !/:$/.test(text) &&
        !/^\s{6,}/.test(raw),
    )?.text;
}

/** What a sandboxed (or unsandboxed) crafted program can see of the filesystem. */
export function visibility(sandboxed: boolean | undefined): string {
  return sandboxed
    ? "Sandboxed: no network; it reads the system's files, the client's MCP roots (read-only unless FLAKEBOT_SANDBOX_WRITE=roots) and the paths in FLAKEBOT_SANDBOX_READ, but not the home directory, /tmp or /run; it writes only to its own scratch directory, its working directory."
    : "Not sandboxed: it sees and may change whatever the server's user can.";
}

/** The description a model reads: what it does, where it came from, how to call it. */
export function describeCrafted(craft: Craft): string {
  const from = craft.crate
    ? `the crate ${craft.crate.name} ${craft.crate.version}`
    : craft.target
      ? `${craft.target.package} ${craft.target.version} (${craft.source?.url ?? "local source"})`
      : "a Rust program";
  const what = asSentence(craft.description ?? craft.request.instructions);
  if (craft.request.kind === "service") {
    return `${what} A service crafted by Flakebot from ${from}, running at ${craft.service?.url ?? "a loopback address"}. Call with {"method":"GET","path":"/"}; it reaches only this service.`;
  }
  return [
    `${what}`,
    `Crafted by Flakebot from ${from}; runs the binary \`${craft.target?.bin ?? "?"}\` with an argv array, never a shell.`,
    visibility(craft.sandboxed),
    `Call with {"args": [...], "stdin": "...", "timeout_ms": 60000}; output is capped at 1 MiB per stream.`,
    ...(usableParams(craft.params ?? []).length > 0 ? [ARGV_ORDER] : []),
    `Same call through invoke_tool: {"name": "${craft.name}", "args": [...]}.`,
  ].join(" ");
}

/** The crafted tool's input: the raw argv form, plus named parameters from its --help. */
export function inputShapeFor(craft: Craft): z.ZodRawShape {
  if (craft.request.kind === "service") return serviceInputShape;
  return { ...rawInputShape, ...paramsToZodShape(craft.params ?? []) };
}

/** The input schema registered for the tool: a command's refuses unknown parameters. */
export function inputSchemaFor(craft: Craft): z.ZodObject {
  const shape = inputShapeFor(craft);
  return craft.request.kind === "service" ? z.object(shape) : strictInput(shape);
}

/** The input schema as JSON Schema (without its "$schema" line), as tools/list shows it. */
export function inputJsonSchema(craft: Craft): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(inputSchemaFor(craft)) as Record<string, unknown>;
  return schema;
}
