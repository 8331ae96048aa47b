// What disposing a tool removes, part by part, in order: each part cleans up only what it
// made (the service it runs, the backend's build, the fork, the cached build, the tool's
// own directory) and says what it removed.
import fs from "node:fs/promises";
import type { Config } from "./config.js";
import type { Craft } from "./model/craft.js";
import type { ToolPaths } from "./state/paths.js";
import type { Store } from "./state/store.js";
import type { ServiceManager } from "./service/manager.js";
import { allBackends } from "./backends/select.js";
import { releaseBuild } from "./backends/cache.js";
import { deleteFork } from "./sources/fork.js";

export interface Disposer {
  part: string;
  /** Removes this part of tool `name`; `craft` is undefined when its manifest is unreadable. */
  dispose(name: string, craft: Craft | undefined, paths: ToolPaths): Promise<string[]>;
}

export interface DisposeDeps {
  config: Config;
  store: Store;
  services: ServiceManager;
  /** The other tools in the state directory (what they still use is kept). */
  others(): Promise<Craft[]>;
}

/** How disposing says it removed an alias (the provisional name of a craft renamed after its crate). */
export function aliasRemoved(alias: string, name: string): string {
  return `the name "${alias}" (another name of "${name}")`;
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

export function disposers(deps: DisposeDeps): Disposer[] {
  return [
    { part: "service", dispose: (name) => deps.services.stop(name) },
    {
      part: "build",
      dispose: async (_name, craft, paths) => (await Promise.all(allBackends().map((b) => b.dispose(paths, craft)))).flat(),
    },
    {
      part: "fork",
      async dispose(name, craft) {
        const fork = craft?.source?.fork;
        if (!fork || !craft.source!.fork_created) return [];
        // Another tool here on the same fork inherits it: disposing that one deletes it.
        const heir = (await deps.others()).find((c) => c.source?.fork === fork);
        if (heir) {
          await deps.store.save({ ...heir, source: { ...heir.source!, fork_created: true } });
          return [`fork ${fork} kept: the tool "${heir.name}" still uses it (disposing that one deletes it)`];
        }
        const outcome = await deleteFork(deps.config, craft.source, name).catch((err) => ({ deleted: false, message: (err as Error).message }));
        return [outcome.deleted ? `fork ${fork}` : `fork ${fork} kept: ${outcome.message}`];
      },
    },
    {
      part: "build cache",
      async dispose(_name, craft) {
        const key = craft?.build?.key;
        if (!key) return [];
        const stillUsed = (await deps.others()).some((c) => c.build?.key === key);
        return releaseBuild(deps.config.home, key, stillUsed);
      },
    },
    {
      part: "workspace",
      async dispose(name, _craft, paths) {
        const removed: string[] = [];
        for (const p of [paths.workspace, paths.scratch, paths.log, paths.manifest]) if (await exists(p)) removed.push(p);
        for (const alias of await deps.store.remove(name)) removed.push(aliasRemoved(alias, name));
        return removed;
      },
    },
  ];
}
