// The views of a craft record that callers see: the contract's status object and the short text an agent reads first.
import type { Craft } from "./craft.js";

/** The contract's craft status view of a record. */
export function craftView(craft: Craft): Record<string, unknown> {
  const view: Record<string, unknown> = {
    status: craft.status,
    tool: craft.name,
    message: craft.message,
  };
  if (craft.stage) view.stage = craft.stage;
  if (craft.crate) view.crate = craft.crate;
  if (craft.candidates) view.candidates = craft.candidates;
  if (craft.source) {
    view.source = {
      url: craft.source.url,
      rev: craft.source.rev,
      commit: craft.source.commit,
      ...(craft.source.fork ? { fork: craft.source.fork } : {}),
    };
  }
  if (craft.build) {
    const b = craft.build;
    view.build = {
      backend: b.backend,
      reproducible: b.reproducible,
      ...(b.flake_ref ? { flake_ref: b.flake_ref } : {}),
      ...(b.store_path ? { store_path: b.store_path } : {}),
      binary: b.binary,
      duration_ms: b.duration_ms,
      ...(b.cached ? { cached: true } : {}),
      ...(craft.target?.features?.length ? { features: craft.target.features } : {}),
    };
  }
  if (craft.tests) view.tests = craft.tests;
  if (craft.usage && craft.status === "ready") view.usage = craft.usage;
  if (craft.sandboxed !== undefined) view.sandboxed = craft.sandboxed;
  if (craft.service) view.service = { url: craft.service.url, state: craft.service.state, restarts: craft.service.restarts };
  if (craft.error) view.error = craft.error;
  return view;
}

/** The short text an agent reads first. */
export function craftText(craft: Craft): string {
  switch (craft.status) {
    case "ready":
      return `Tool "${craft.name}" is ready.\n\n${craft.usage ?? ""}`.trim();
    case "building":
      return `Tool "${craft.name}" is still being crafted (stage: ${craft.stage ?? "queued"}; ${craft.message}). Poll with describe_tool {"name": "${craft.name}", "wait_seconds": 60}.`;
    default:
      return `Crafting "${craft.name}" failed at stage ${craft.stage ?? "start"}:\n${craft.error ?? craft.message}`;
  }
}
