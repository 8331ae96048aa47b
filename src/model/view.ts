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
  if (craft.crate) view.crate = { name: craft.crate.name, version: craft.crate.version, ...(craft.crate.repository ? { repository: craft.crate.repository } : {}) };
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

/** The message of a ready craft: what was reused, and what the tests proved. */
export function readyMessage(craft: Craft): string {
  const notes: string[] = [];
  if (craft.build?.cached) notes.push("an identical earlier build was reused");
  if (craft.build?.fallback_reason) notes.push(`built with cargo and NOT reproducible: ${craft.build.fallback_reason}`);
  const t = craft.tests;
  const total = (t?.acceptance_passed ?? 0) + (t?.acceptance_failed ?? 0);
  if (craft.modify?.needed_change === false) notes.push(`no change was needed: all ${total} acceptance test(s) already passed on the upstream binary`);
  else if (t?.acceptance_upstream && craft.modify) {
    notes.push(`acceptance tests: ${t.acceptance_upstream.passed} of ${total} passed on the upstream binary, ${t.acceptance_passed} of ${total} on the changed one`);
  }
  if (t?.known_failures?.length) notes.push(`${t.known_failures.length} upstream test(s) already failed before any change and still do (not counted): ${t.known_failures.join(", ")}`);
  if (t?.changed_upstream_tests?.length) notes.push(`upstream tests rewritten as allowed: ${t.changed_upstream_tests.join(", ")}`);
  return notes.length ? `ready (${notes.join("; ")})` : "ready";
}
