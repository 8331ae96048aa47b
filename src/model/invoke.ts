// What one run of a crafted tool returns: the same record for invoke_tool, a crafted
// tool called by name, the command line and the acceptance tests.
import { z } from "zod";

export const invokeOutputShape = {
  exit_code: z.number().int().nullable(),
  signal: z.string().optional(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  timed_out: z.boolean(),
  duration_ms: z.number(),
  note: z.string().optional().describe("Flakebot's note on the run, such as a path the sandbox hides and how to grant it"),
};

export type InvokeOutput = z.infer<z.ZodObject<typeof invokeOutputShape>>;
