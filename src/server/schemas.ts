// The meta tools' output shapes (contract.md), as zod shapes the SDK turns into JSON Schema.
import { z } from "zod";
import { STAGES } from "../model/craft.js";
import { BACKEND_NAMES } from "../model/backends.js";

export const craftStatusShape = {
  status: z.enum(["ready", "building", "failed"]),
  tool: z.string(),
  stage: z.enum(STAGES).optional(),
  message: z.string(),
  crate: z.object({ name: z.string(), version: z.string(), repository: z.string().optional() }).optional(),
  candidates: z
    .array(
      z.object({
        name: z.string(),
        version: z.string(),
        downloads: z.number(),
        reason: z.string(),
        rejected: z.string().optional().describe("Why this crate was set aside (no binary, every version yanked...)"),
      }),
    )
    .optional()
    .describe("The top crates considered, the chosen one first; set-aside ones carry `rejected`"),
  source: z.object({ url: z.string(), rev: z.string(), commit: z.string(), fork: z.string().optional() }).optional(),
  build: z
    .object({
      backend: z.enum(BACKEND_NAMES),
      reproducible: z.boolean(),
      flake_ref: z.string().optional(),
      store_path: z.string().optional(),
      binary: z.string(),
      duration_ms: z.number(),
      cached: z.boolean().optional(),
      features: z.array(z.string()).optional().describe("Cargo features the build enabled (those asked for and the binary's required-features)"),
    })
    .optional(),
  tests: z
    .object({
      passed: z.number(),
      failed: z.number(),
      acceptance_passed: z.number(),
      acceptance_failed: z.number(),
      known_failures: z.array(z.string()).optional().describe("Upstream tests that failed before any change (not counted)"),
      changed_upstream_tests: z.array(z.string()).optional().describe("Upstream tests the change rewrote, each named in allow_test_changes"),
      acceptance_upstream: z
        .object({ passed: z.number(), failed: z.number() })
        .optional()
        .describe("The acceptance tests against the upstream binary, before any change"),
    })
    .optional(),
  usage: z.string().optional(),
  sandboxed: z.boolean().optional(),
  service: z
    .object({
      url: z.string(),
      state: z.enum(["starting", "running", "restarting", "stopped", "failed"]),
      restarts: z.number(),
    })
    .optional(),
  error: z.string().optional(),
};

// The keywords a crafted tool's input properties use (see craft/definition.ts and
// craft/argv.ts). Listed one by one: a free-form schema would accept anything.
const jsonSchemaProperty = z.object({
  type: z.string().optional(),
  description: z.string().optional(),
  items: z.object({ type: z.string(), maxLength: z.number().optional(), pattern: z.string().optional() }).optional(),
  propertyNames: z.object({ type: z.string() }).optional(),
  additionalProperties: z.object({ type: z.string(), maxLength: z.number().optional() }).optional(),
  minItems: z.number().optional(),
  maxItems: z.number().optional(),
  minLength: z.number().optional(),
  maxLength: z.number().optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  enum: z.array(z.string()).optional(),
});

export const describeShape = {
  ...craftStatusShape,
  input_schema: z
    .object({
      type: z.literal("object"),
      properties: z.record(z.string(), jsonSchemaProperty),
      required: z.array(z.string()).optional(),
      additionalProperties: z.boolean().optional(),
    })
    .optional()
    .describe("The crafted tool's input JSON Schema"),
  definition_sha256: z.string().optional(),
  created_at: z.string(),
  last_used_at: z.string().optional(),
  log_tail: z.array(z.string()),
  diff_stat: z.string().optional(),
};

export const disposeOutputShape = {
  disposed: z.string(),
  removed: z.array(z.string()),
};
