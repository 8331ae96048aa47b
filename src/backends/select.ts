// Which backend builds crafts: FLAKEBOT_BACKEND, and for "auto" whether Nix is usable
// (then a failed Nix build falls back to cargo, flagged). The server, the command line
// and doctor all ask here.
import type { Config } from "../config.js";
import { UserError } from "../model/errors.js";
import type { Backend, BackendName, BackendProbe } from "./backend.js";
import { cargoBackend } from "./cargo/backend.js";
import { nixBackend } from "./nix/backend.js";

const BACKENDS: Record<BackendName, Backend> = { nix: nixBackend, cargo: cargoBackend };

export function backendNamed(name: BackendName): Backend {
  return BACKENDS[name];
}

export interface BackendChoice {
  backend: Backend;
  /** Packages the build when the backend fails (FLAKEBOT_BACKEND=auto only). */
  fallback?: Backend;
}

const probes = new Map<BackendName, Promise<BackendProbe>>();

/** The backend's probe, run once per process. */
export function probeOnce(backend: Backend): Promise<BackendProbe> {
  let p = probes.get(backend.name);
  if (!p) probes.set(backend.name, (p = backend.probe()));
  return p;
}

export async function selectBackend(config: Pick<Config, "backend">): Promise<BackendChoice> {
  if (config.backend === "cargo") return { backend: cargoBackend };
  const nix = await probeOnce(nixBackend);
  if (config.backend === "nix") {
    if (!nix.available) {
      throw new UserError(`FLAKEBOT_BACKEND=nix, but Nix is not usable: ${nix.reason ?? "not found"}. Install it (apt-get install -y nix-bin, or https://nixos.org/download) or set FLAKEBOT_BACKEND=auto`);
    }
    return { backend: nixBackend };
  }
  return nix.available ? { backend: nixBackend, fallback: cargoBackend } : { backend: cargoBackend };
}

/** Every backend, for clean-ups that must find what any of them made. */
export function allBackends(): Backend[] {
  return Object.values(BACKENDS);
}
