// Tool manifests on disk: one directory per tool under FLAKEBOT_HOME/tools, written
// atomically (temp file, fsync, rename) so a crash never leaves half a manifest.
import fs from "node:fs/promises";
import path from "node:path";
import type { Craft } from "../model/craft.js";
import { isToolName, toolPaths, toolsDir } from "./paths.js";

export class CorruptManifestError extends Error {}

const QUARANTINED_MANIFEST = "manifest.quarantined.json";
const QUARANTINE_NOTE = "quarantine.json";
/** In the directory of a provisional name: the tool it was renamed to. */
const ALIAS_NOTE = "alias.json";

// Two writes of one file in the same millisecond (a service's state and its last use) must
// not share a temp file: interleaved, it would be renamed into place corrupt.
let writes = 0;

export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}${String(++writes % 1000).padStart(3, "0")}.tmp`;
  try {
    const handle = await fs.open(tmp, "w", 0o600);
    try {
      await handle.writeFile(JSON.stringify(data, null, 2) + "\n");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw diskError(err, file);
  }
  const dir = await fs.open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A full disk said in words, keeping the error's code. */
function diskError(err: unknown, file: string): unknown {
  if ((err as NodeJS.ErrnoException).code !== "ENOSPC") return err;
  return Object.assign(new Error(`No space left on device writing ${file}: free some space (dispose unused tools) or point FLAKEBOT_HOME at a larger disk`), { code: "ENOSPC" });
}

const TEMP_FILE = /\.json\.(\d+)\.\d+\.tmp$/;

/** Removes the temp files of atomic writes whose writer died (a crash, a full disk). */
async function removeDeadTemps(dirs: string[], alive: (pid: number) => boolean): Promise<void> {
  for (const dir of dirs) {
    const entries = await fs.readdir(dir).catch(() => [] as string[]);
    for (const e of entries) {
      const m = TEMP_FILE.exec(e);
      if (m && !alive(Number(m[1]))) await fs.rm(path.join(dir, e), { force: true }).catch(() => {});
    }
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CorruptManifestError(`${file} is not valid JSON (a corrupt manifest): dispose the tool or delete that file`);
  }
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

function removeDir(dir: string): Promise<void> {
  return fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

export class Store {
  /** `writerAlive` tells whether the process that started a temp file still runs (exec/procs.ts). */
  constructor(
    readonly home: string,
    private readonly writerAlive: (pid: number) => boolean = () => true,
  ) {}

  paths(name: string) {
    return toolPaths(this.home, name);
  }

  async init(): Promise<void> {
    await fs.mkdir(toolsDir(this.home), { recursive: true, mode: 0o700 });
    const tools = await fs.readdir(toolsDir(this.home)).catch(() => [] as string[]);
    await removeDeadTemps([this.home, ...tools.filter(isToolName).map((n) => this.paths(n).dir)], this.writerAlive);
    await this.removeDanglingAliases();
    // A probe write tells a read-only or full home at start-up, not in the middle of a craft.
    await writeJsonAtomic(path.join(this.home, ".probe.json"), { pid: process.pid });
    await fs.rm(path.join(this.home, ".probe.json"), { force: true });
  }

  /**
   * Claims the tool's directory. Returns false when another craft (in this process or
   * another) already holds the name. mkdir is atomic, so two claimants cannot both win.
   */
  async claim(name: string): Promise<boolean> {
    try {
      await fs.mkdir(this.paths(name).dir, { recursive: false, mode: 0o700 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  }

  async save(craft: Craft): Promise<void> {
    await writeJsonAtomic(this.paths(craft.name).manifest, craft);
  }

  async load(name: string): Promise<Craft | undefined> {
    return readJson<Craft>(this.paths(name).manifest);
  }

  /** Every tool directory's manifest; corrupt ones are reported apart, never deleted. Aliases are no tools. */
  async list(): Promise<{
    crafts: Craft[];
    corrupt: { name: string; error: string }[];
    orphans: string[];
    quarantined: { name: string; reason: string }[];
    aliases: { name: string; to: string }[];
  }> {
    const crafts: Craft[] = [];
    const corrupt: { name: string; error: string }[] = [];
    const orphans: string[] = [];
    const quarantined: { name: string; reason: string }[] = [];
    const aliases: { name: string; to: string }[] = [];
    for (const name of await this.names()) {
      try {
        const to = await this.aliasOf(name);
        if (to) {
          aliases.push({ name, to });
          continue;
        }
        const craft = await this.load(name);
        const reason = craft ? undefined : await this.quarantined(name);
        if (craft) crafts.push(craft);
        else if (reason) quarantined.push({ name, reason });
        else orphans.push(name);
      } catch (err) {
        corrupt.push({ name, error: (err as Error).message });
      }
    }
    return { crafts, corrupt, orphans, quarantined, aliases };
  }

  /** The names of the directories under tools/ (tools, aliases, orphans), sorted. */
  private async names(): Promise<string[]> {
    try {
      // anything else is not a tool's directory (a quarantine, a stray file)
      return (await fs.readdir(toolsDir(this.home))).filter(isToolName).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      return [];
    }
  }

  /** Whether the tool's manifest is on disk. */
  async exists(name: string): Promise<boolean> {
    return fs.access(this.paths(name).manifest).then(() => true, () => false);
  }

  /** Moves a manifest that does not verify aside, with the reason; returns where it went. */
  async quarantine(name: string, reason: string): Promise<string> {
    const paths = this.paths(name);
    const aside = path.join(paths.dir, QUARANTINED_MANIFEST);
    await fs.rename(paths.manifest, aside);
    await writeJsonAtomic(path.join(paths.dir, QUARANTINE_NOTE), { reason, at: new Date().toISOString() });
    return aside;
  }

  /** Why a tool was quarantined, or undefined when it was not. */
  async quarantined(name: string): Promise<string | undefined> {
    const note = await readJson<{ reason?: string }>(path.join(this.paths(name).dir, QUARANTINE_NOTE)).catch(() => undefined);
    return note?.reason;
  }

  /**
   * Moves tool `from` into the directory claimed (claim) for `renamed.name`, with `renamed`
   * as its manifest, and leaves `from` as an alias of it. `from` stays a directory all along,
   * so no other craft can claim the name meanwhile; readers see the new manifest before the
   * alias, and the alias before the old manifest goes.
   */
  async rename(from: string, renamed: Craft): Promise<void> {
    const src = this.paths(from);
    const dst = this.paths(renamed.name);
    try {
      await this.save(renamed);
      await writeJsonAtomic(path.join(src.dir, ALIAS_NOTE), { to: renamed.name, at: new Date().toISOString() });
    } catch (err) {
      await fs.rm(path.join(src.dir, ALIAS_NOTE), { force: true }).catch(() => {});
      await removeDir(dst.dir).catch(() => {});
      throw err;
    }
    // Renamed from here on: what is left to move (the log) may lag, but is never lost.
    await fs.rm(src.manifest, { force: true });
    for (const entry of await fs.readdir(src.dir)) {
      if (entry === ALIAS_NOTE || TEMP_FILE.test(entry)) continue;
      await fs.rename(path.join(src.dir, entry), path.join(dst.dir, entry));
    }
  }

  /** Aliases whose tool is gone (a crash in the middle of a dispose) would name the next tool of that name. */
  private async removeDanglingAliases(): Promise<void> {
    for (const name of await this.names()) {
      const to = await this.aliasOf(name);
      if (to && !(await exists(this.paths(to).dir))) await removeDir(this.paths(name).dir);
    }
  }

  /** The tool `name` is another name of (a craft renamed after its crate), or undefined. */
  async aliasOf(name: string): Promise<string | undefined> {
    if (!isToolName(name)) return undefined;
    const note = await readJson<{ to?: unknown }>(path.join(this.paths(name).dir, ALIAS_NOTE)).catch(() => undefined);
    return typeof note?.to === "string" && isToolName(note.to) && note.to !== name ? note.to : undefined;
  }

  /**
   * Removes the tool's directory and its aliases; returns the aliases removed. The aliases go
   * first: a crash in between leaves the tool without its old name, never a name pointing
   * at whatever is crafted under the tool's name next.
   */
  async remove(name: string): Promise<string[]> {
    const aliases: string[] = [];
    for (const other of await this.names()) {
      if ((await this.aliasOf(other)) !== name) continue;
      await removeDir(this.paths(other).dir);
      aliases.push(other);
    }
    await removeDir(this.paths(name).dir);
    return aliases;
  }
}
