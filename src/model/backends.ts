// The build backends a craft can name (FLAKEBOT_BACKEND, BuildInfo.backend). Each has an
// implementation in backends/<name>/, listed in backends/select.ts.
export const BACKEND_NAMES = ["nix", "cargo"] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];
