// Watches FLAKEBOT_HOME/tools for tool directories that come and go from other processes.
import fs from "node:fs";
import { toolsDir } from "../state/paths.js";

/** Calls `changed` (at most every 200 ms) when an entry of tools/ is added or removed. */
export function watchTools(home: string, changed: () => void): fs.FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined;
  try {
    const watcher = fs.watch(toolsDir(home), { persistent: false }, () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        changed();
      }, 200).unref();
    });
    watcher.on("error", () => watcher.close());
    return watcher;
  } catch {
    return undefined; // no tools/ yet, or no inotify: tools/list still notices
  }
}
