// FLAKEBOT_IDLE_DISPOSE: crafted tools (commands and services) not called for that long are
// disposed, at start-up and then periodically. A tool never called counts from its creation;
// a craft still building is never idle.
import type { Craft } from "../model/craft.js";
import { log } from "../log.js";

/** What idle disposal needs of the core (Flakebot provides it). */
export interface IdleTarget {
  list(): Promise<Craft[]>;
  dispose(name: string): Promise<{ disposed: string; removed: string[] }>;
}

/** When the tool was last called, or created when never. */
export function lastActive(craft: Craft): number {
  const used = craft.last_used_at ? Date.parse(craft.last_used_at) : NaN;
  return Number.isFinite(used) ? used : Date.parse(craft.created_at);
}

export function isIdle(craft: Craft, idleMs: number, now = Date.now()): boolean {
  if (craft.status === "building") return false;
  return now - lastActive(craft) >= idleMs;
}

/** Disposes every idle tool; returns the names disposed. */
export async function disposeIdle(app: IdleTarget, idleMs: number, now = Date.now()): Promise<string[]> {
  const disposed: string[] = [];
  for (const craft of await app.list()) {
    if (!isIdle(craft, idleMs, now)) continue;
    try {
      await app.dispose(craft.name);
      disposed.push(craft.name);
      log.info(`disposed "${craft.name}": not called for ${Math.round((now - lastActive(craft)) / 1000)} s (FLAKEBOT_IDLE_DISPOSE)`);
    } catch (err) {
      log.warn(`idle disposal of "${craft.name}" failed: ${(err as Error).message}`);
    }
  }
  return disposed;
}

/** How often to look: a quarter of the idle time, between one second and ten minutes. */
export function checkEveryMs(idleMs: number): number {
  return Math.min(Math.max(Math.floor(idleMs / 4), 1000), 10 * 60_000);
}

/** Runs disposeIdle now and then periodically; `stop()` ends it. The timer keeps nothing alive. */
export function startIdleDisposal(app: IdleTarget, idleMs: number): { first: Promise<string[]>; stop(): void } {
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    const next = running.then(() => disposeIdle(app, idleMs));
    running = next.catch(() => {});
    return next;
  };
  const first = sweep();
  const timer = setInterval(() => void sweep().catch((err) => log.warn(`idle disposal: ${(err as Error).message}`)), checkEveryMs(idleMs));
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
