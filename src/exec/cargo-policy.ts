// What cargo may read when it works on an untrusted source. Cargo reads configuration from
// `.cargo/config*` in its working directory and every ancestor (not from --manifest-path's),
// and rustup obeys a `rust-toolchain*` file there; either lets a source run a program of its
// choosing (`rustc-wrapper`, `linker`, a toolchain to download). So cargo always runs from an
// empty directory of Flakebot's own with --manifest-path, with RUSTUP_TOOLCHAIN pinned to
// the host's active toolchain, and with a CARGO_HOME of Flakebot's own whose config.toml is
// a copy of the operator's (their mirrors and offline settings keep working; their
// credentials and installed binaries stay out of sight).
import { existsSync, realpathSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findOnPath } from "./which.js";
import { runProcess } from "./process.js";
import { toolchainEnv } from "./env.js";

export interface CargoPlaces {
  /** CARGO_HOME for every cargo Flakebot runs. */
  cargoHome: string;
  /** The empty working directory cargo runs in. */
  cwd: string;
  /** FLAKEBOT_HOME: hidden from sandboxed cargo runs. */
  stateHome: string;
}

function operatorCargoHome(): string {
  return path.resolve(process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo"));
}

async function readOrNull(file: string): Promise<string | null> {
  return fs.readFile(file, "utf8").catch(() => null);
}

/** Writes `text` to `file` when it differs, atomically (several crafts may start at once). */
async function syncFile(file: string, text: string | null): Promise<void> {
  if ((await readOrNull(file)) === text) return;
  if (text === null) return fs.rm(file, { force: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/**
 * Prepares Flakebot's CARGO_HOME (with the operator's current config) and cargo's empty
 * cwd: `cwd` when given (one of a craft's own, outside any source tree), else a shared one.
 */
export async function cargoPlaces(stateHome: string, cwd = path.join(stateHome, "cargo-cwd")): Promise<CargoPlaces> {
  const cargoHome = path.join(stateHome, "cargo-home");
  await fs.mkdir(cargoHome, { recursive: true, mode: 0o700 });
  await fs.mkdir(cwd, { recursive: true, mode: 0o755 });
  const theirs = operatorCargoHome();
  const config = (await readOrNull(path.join(theirs, "config.toml"))) ?? (await readOrNull(path.join(theirs, "config")));
  await syncFile(path.join(cargoHome, "config.toml"), config);
  return { cargoHome, cwd, stateHome };
}

let activeToolchain: Promise<string | undefined> | undefined;

/** The toolchain rustup uses outside any project, or undefined without rustup. */
export function hostToolchain(): Promise<string | undefined> {
  activeToolchain ??= (async () => {
    if (process.env.RUSTUP_TOOLCHAIN) return process.env.RUSTUP_TOOLCHAIN;
    const rustup = findOnPath("rustup");
    if (!rustup) return undefined;
    // From "/", where no project's toolchain file applies.
    const r = await runProcess([rustup, "show", "active-toolchain"], { kind: "probe", cwd: "/", env: toolchainEnv(), timeoutMs: 30_000 });
    return r.exitCode === 0 ? r.stdout.trim().split(/\s+/)[0] || undefined : undefined;
  })();
  return activeToolchain;
}

/** The environment of every cargo run: no secrets, Flakebot's CARGO_HOME, the host's toolchain. */
export async function cargoEnv(places: CargoPlaces, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const toolchain = await hostToolchain();
  return toolchainEnv({
    CARGO_HOME: places.cargoHome,
    ...(toolchain ? { RUSTUP_TOOLCHAIN: toolchain } : {}),
    ...extra,
  });
}

/** On systemd-resolved hosts /etc/resolv.conf leads into /run, which sandboxes hide: show that directory. */
export function resolverDirs(): string[] {
  try {
    const real = path.dirname(realpathSync("/etc/resolv.conf"));
    return real.startsWith("/run/") && existsSync(real) ? [real] : [];
  } catch {
    return [];
  }
}
