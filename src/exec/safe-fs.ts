// Touching files of a source tree, which is hostile: its symbolic links may point anywhere
// (/proc/self/environ, the user's ~/.ssh, a host file to overwrite). Every read, write and
// copy of such a tree goes through these helpers, which never follow a link.
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + path.sep);
}

/**
 * `rel` resolved under `dir`, refused when it leaves `dir` or when any component on the way
 * (below `dir`) is a symbolic link. A missing last component is fine (a file to create).
 */
export async function pathInside(dir: string, rel: string): Promise<string> {
  const root = await fs.realpath(dir);
  const full = path.resolve(root, rel);
  if (!within(full, root)) throw new UnsafePathError(`"${rel}" leaves ${dir}`);
  let current = root;
  for (const part of path.relative(root, full).split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    const st = await fs.lstat(current).catch(() => null);
    if (!st) break;
    if (st.isSymbolicLink()) throw new UnsafePathError(`${path.relative(root, current)} in ${dir} is a symbolic link, which Flakebot does not follow`);
  }
  return full;
}

/**
 * Checks that `file` is a regular file inside `dir` (no link anywhere on the way, its real
 * path inside `dir`'s real path) and returns its real path. For build outputs.
 */
export async function regularFileInside(dir: string, file: string): Promise<string> {
  const root = await fs.realpath(dir);
  const full = await pathInside(root, path.relative(root, path.resolve(file)));
  const st = await fs.lstat(full).catch(() => null);
  if (!st) throw new UnsafePathError(`${file} does not exist`);
  if (!st.isFile()) throw new UnsafePathError(`${file} is not a regular file`);
  const real = await fs.realpath(full);
  if (!within(real, root)) throw new UnsafePathError(`${file} leads out of ${dir}`);
  return real;
}

/** Reads `rel` under `dir` only when it is a regular file reached without a link. */
export async function readRegularFile(dir: string, rel: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  const full = await pathInside(dir, rel);
  // O_NOFOLLOW: a link swapped in after the check is refused, not followed.
  const handle = await fs.open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ELOOP") throw new UnsafePathError(`${rel} in ${dir} is a symbolic link, which Flakebot does not follow`);
    throw err;
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new UnsafePathError(`${rel} in ${dir} is not a regular file`);
    if (st.size > maxBytes) throw new UnsafePathError(`${rel} in ${dir} is larger than ${maxBytes} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `rel` under `dir` without following links: the data goes to a new temporary file
 * beside it, which then replaces whatever was there (a link is replaced, never written through).
 */
export async function writeFileNoFollow(dir: string, rel: string, data: string | Buffer, mode = 0o644): Promise<void> {
  // The directory on the way must hold no link; the file itself may be one (it is replaced).
  const full = path.join(await pathInside(dir, path.dirname(rel)), path.basename(rel));
  const st = await fs.lstat(full).catch(() => null);
  if (st?.isDirectory()) throw new UnsafePathError(`${rel} in ${dir} is a directory`);
  const tmp = path.join(path.dirname(full), `.${path.basename(full)}.flakebot-${process.pid}-${Date.now()}.tmp`);
  const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, full).catch(async (err) => {
    await fs.rm(tmp, { force: true });
    throw err;
  });
}

export interface CopyReport {
  /** Links left out because they point outside the tree (or are absolute). */
  skippedLinks: string[];
  /** Sockets, FIFOs, devices: never copied. */
  skippedSpecial: string[];
}

/**
 * Copies the tree at `src` to `dest` (which must not exist) without following any link: a
 * link is copied as a link only when it is relative and stays inside the tree; anything else
 * that is not a directory or regular file is left out. `skip(rel)` leaves out a path.
 */
export async function copyTreeNoLinks(src: string, dest: string, skip: (rel: string) => boolean = () => false): Promise<CopyReport> {
  const root = await fs.realpath(src);
  const report: CopyReport = { skippedLinks: [], skippedSpecial: [] };
  await fs.mkdir(dest, { recursive: false, mode: 0o755 });
  const copiedRoot = await fs.realpath(dest);
  const links: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
      const childRel = path.join(rel, entry.name);
      if (skip(childRel)) continue;
      const from = path.join(root, childRel);
      const to = path.join(dest, childRel);
      const st = await fs.lstat(from);
      if (st.isDirectory()) {
        await fs.mkdir(to, { mode: (st.mode & 0o777) | 0o700 });
        await walk(childRel);
      } else if (st.isFile()) {
        await fs.copyFile(from, to, constants.COPYFILE_EXCL);
        await fs.chmod(to, st.mode & 0o755);
      } else if (st.isSymbolicLink()) {
        const target = await fs.readlink(from);
        if (path.isAbsolute(target) || !within(path.resolve(path.dirname(from), target), root)) report.skippedLinks.push(childRel);
        else {
          await fs.symlink(target, to);
          links.push(childRel);
        }
      } else {
        report.skippedSpecial.push(childRel);
      }
    }
  };
  await walk("");
  // Links through links can still climb out (a/s -> .., a/b -> s/..): resolve each for real.
  for (const rel of links) {
    const real = await fs.realpath(path.join(copiedRoot, rel)).catch(() => null);
    if (real && within(real, copiedRoot)) continue;
    await fs.rm(path.join(copiedRoot, rel), { force: true });
    report.skippedLinks.push(rel);
  }
  return report;
}
