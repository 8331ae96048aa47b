// Finding an executable on a PATH, the way a shell would (a regular, executable file).
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/** The executable `name` on the PATH of `env` (the server's own by default), or null. */
export function findOnPath(name: string, env: Record<string, string | undefined> = process.env): string | null {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
