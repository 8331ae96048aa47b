// Which host paths a sandboxed crafted program cannot see, so that a call naming one gets an
// answer that says why ("No such file or directory" alone sends the agent the wrong way), and
// FLAKEBOT_SANDBOX_READ: the paths a user grants crafted programs besides the MCP roots.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** FLAKEBOT_SANDBOX_READ: `:`-separated absolute paths; throws on a relative one. */
export function sandboxReadPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env.FLAKEBOT_SANDBOX_READ ?? "";
  const paths = value.split(":").filter((p) => p.trim() !== "");
  const relative = paths.filter((p) => !path.isAbsolute(p));
  if (relative.length > 0) {
    throw new Error(`FLAKEBOT_SANDBOX_READ: ${relative.map((p) => `"${p.slice(0, 80)}"`).join(", ")} ${relative.length > 1 ? "are" : "is"} not absolute: give absolute paths separated by ":" (like /home/me/data:/srv/files)`);
  }
  return paths.map((p) => path.resolve(p));
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir === "/" ? "/" : dir + path.sep);

export interface SandboxView {
  /** Paths shown to the program (roots, FLAKEBOT_SANDBOX_READ, its scratch). */
  shown: string[];
  /** Directories the sandbox hides besides the home directory, /tmp and /run (FLAKEBOT_HOME). */
  hidden: string[];
}

/** The host paths named by `args` (or `--opt=PATH`) that exist on the host but the sandbox hides. */
export function hiddenPaths(args: readonly string[], view: SandboxView): string[] {
  const hidden = [path.resolve(os.homedir()), "/tmp", "/run", ...view.hidden].filter((d) => d !== "/");
  const out: string[] = [];
  for (const arg of args) {
    const value = /^--?[\w-]+=(\/.*)$/.exec(arg)?.[1] ?? arg;
    if (!path.isAbsolute(value) || value.includes("\0")) continue;
    const p = path.resolve(value);
    if (!hidden.some((d) => within(p, d)) || view.shown.some((s) => within(p, s))) continue;
    if (existsSync(p) && !out.includes(p)) out.push(p);
  }
  return out;
}

/** What to tell the caller about hidden paths. */
export function hiddenNote(paths: string[]): string | undefined {
  if (paths.length === 0) return undefined;
  const list = paths.slice(0, 5).join(", ");
  const dirs = [...new Set(paths.map((p) => path.dirname(p)))].slice(0, 3).join(":");
  return (
    `The sandbox hides ${list} from this tool (it sees no home directory, /tmp or /run), so the program could not read ${paths.length > 1 ? "them" : "it"}. ` +
    `To grant access, add the directory as an MCP root in your client, or start Flakebot with FLAKEBOT_SANDBOX_READ=${dirs} (":"-separated absolute paths); or pass the content as "stdin".`
  );
}
