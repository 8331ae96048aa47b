// Applying an LLM's edits to the workspace, safely. Every path is checked before anything
// is written: relative, no `..`, nothing under .git/ or .cargo/ or target/, no toolchain
// file, no symbolic link on the way (so nothing can lead out of the workspace), and no build
// script or manifest change that would fetch from the network, redirect a dependency
// ([patch], [replace]) or run a test target without libtest's harness. All edits of an
// answer are checked first and written only when every one is acceptable. An edit may also
// delete a file (say a build script a failed round added).
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { inside } from "../state/paths.js";
import { manifestFacts, manifestProblems, manifestTextProblems, newBuildScripts, type ManifestFacts, type ReadManifests } from "./manifest.js";

export const EditSchema = z.union([
  z.strictObject({
    path: z.string().min(1).max(400),
    search: z.string().min(1, "search must not be empty (use content to write a whole file)"),
    replace: z.string(),
  }),
  z.strictObject({
    path: z.string().min(1).max(400),
    content: z.string(),
  }),
  z.strictObject({
    path: z.string().min(1).max(400),
    delete: z.literal(true),
  }),
]);
export type Edit = z.infer<typeof EditSchema>;

export class EditRejected extends Error {
  constructor(readonly problems: string[]) {
    super(`edits rejected: ${problems.join("; ")}`);
    this.name = "EditRejected";
  }
}

const MAX_FILE_BYTES = 512 * 1024;
const FORBIDDEN_DIRS = new Set([".git", ".cargo", "target"]);
const FORBIDDEN_FILES = new Set(["rust-toolchain", "rust-toolchain.toml"]);
/** What a build script must not contain: a network client or a download. */
const NETWORK_USE =
  /\b(reqwest|ureq|hyper|curl|attohttpc|isahc|surf|TcpStream|UdpSocket|std::net|tokio::net|wget|git2)\b|Command::new\(\s*"(curl|wget|git|nc|ssh|scp)"|\b(https?|ftp|git|ssh):\/\//;

/** Checks the form of a relative path from outside; returns its normalised segments. */
function pathProblem(rel: string): string | undefined {
  if (rel.includes("\0")) return "contains a NUL byte";
  if (rel.includes("\\")) return "contains a backslash: use / between directories";
  if (path.posix.isAbsolute(rel) || /^[A-Za-z]:/.test(rel) || rel.startsWith("~")) return "is absolute: give a path relative to the crate's root";
  const segments = rel.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0) return "names no file";
  if (segments.includes("..")) return "contains `..`: every file must stay inside the crate";
  const dir = segments.find((s) => FORBIDDEN_DIRS.has(s.toLowerCase()));
  if (dir) return `is inside ${dir}/, which may not be edited`;
  if (FORBIDDEN_FILES.has(segments[segments.length - 1].toLowerCase())) return "is a toolchain file, which may not be edited";
  return undefined;
}

async function lstatOrNull(p: string): Promise<import("node:fs").Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * The absolute path of `rel` inside `root` after every check, or a reason it is refused.
 * No component of the path (below the root) may be a symbolic link.
 */
export async function resolveWorkspacePath(root: string, rel: string): Promise<{ full: string } | { problem: string }> {
  const formProblem = pathProblem(rel);
  if (formProblem) return { problem: `"${rel}" ${formProblem}` };
  let full: string;
  try {
    full = inside(root, rel);
  } catch {
    return { problem: `"${rel}" leaves the crate's directory` };
  }
  const realRoot = await fs.realpath(root);
  let current = path.resolve(root);
  for (const segment of path.relative(path.resolve(root), full).split(path.sep)) {
    current = path.join(current, segment);
    const st = await lstatOrNull(current);
    if (!st) break;
    if (st.isSymbolicLink()) return { problem: `"${rel}" goes through a symbolic link, which may not be followed` };
    const real = await fs.realpath(current);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return { problem: `"${rel}" leads out of the crate's directory` };
  }
  return { full };
}

/** Reads a file of the workspace for the LLM, through the same checks as an edit. */
export async function readWorkspaceFile(root: string, rel: string, maxBytes = 64 * 1024): Promise<{ text: string } | { problem: string }> {
  const resolved = await resolveWorkspacePath(root, rel);
  if ("problem" in resolved) return resolved;
  const st = await lstatOrNull(resolved.full);
  if (!st) return { problem: `"${rel}" does not exist` };
  if (!st.isFile()) return { problem: `"${rel}" is not a file` };
  const buf = await fs.readFile(resolved.full);
  if (buf.includes(0)) return { problem: `"${rel}" is a binary file` };
  const text = buf.subarray(0, maxBytes).toString("utf8");
  return { text: buf.length > maxBytes ? `${text}\n[... cut: the file has ${buf.length} bytes]` : text };
}

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) count++;
  return count;
}

/** The file's new text after one search/replace, or a reason it cannot be applied. */
function replaceOnce(text: string, search: string, replace: string, rel: string): { text: string } | { problem: string } {
  let s = search;
  let n = countOccurrences(text, s);
  if (n === 0 && search.includes("\r\n") !== text.includes("\r\n")) {
    // The model wrote the other line ending: match with the file's own.
    s = text.includes("\r\n") ? search.replace(/\r?\n/g, "\r\n") : search.replace(/\r\n/g, "\n");
    n = countOccurrences(text, s);
  }
  if (n === 0) return { problem: `the search text was not found in "${rel}": copy it exactly from the file, including spaces` };
  if (n > 1) return { problem: `the search text occurs ${n} times in "${rel}": include more surrounding lines so it matches once` };
  const at = text.indexOf(s);
  return { text: text.slice(0, at) + replace + text.slice(at + s.length) };
}

export interface AppliedEdits {
  /** Relative paths written, in order. */
  changed: string[];
}

/**
 * Checks every edit, then writes them all; throws EditRejected (and writes nothing) when
 * any is refused.
 */
export async function applyEdits(root: string, edits: Edit[], readManifests: ReadManifests): Promise<AppliedEdits> {
  const problems: string[] = [];
  // text null: the file is deleted.
  const next = new Map<string, { full: string; before: string | null; text: string | null }>();
  for (const edit of edits) {
    const resolved = await resolveWorkspacePath(root, edit.path);
    if ("problem" in resolved) {
      problems.push(resolved.problem);
      continue;
    }
    const key = path.relative(root, resolved.full).split(path.sep).join("/");
    let entry = next.get(key);
    if (!entry) {
      const st = await lstatOrNull(resolved.full);
      if (st && !st.isFile()) {
        problems.push(`"${edit.path}" is not a regular file`);
        continue;
      }
      const before = st ? await fs.readFile(resolved.full, "utf8") : null;
      entry = { full: resolved.full, before, text: before ?? "" };
    }
    if ("delete" in edit) {
      if (entry.text === null || (entry.before === null && !next.has(key))) {
        problems.push(`"${edit.path}" does not exist, so it cannot be deleted`);
        continue;
      }
      entry.text = null;
      next.set(key, entry);
      continue;
    }
    if ("content" in edit) {
      entry.text = edit.content;
    } else {
      if (entry.text === null) {
        problems.push(`"${edit.path}" is deleted by an earlier edit: give its whole text as "content" to write it again`);
        continue;
      }
      if (entry.before === null && !next.has(key)) {
        problems.push(`"${edit.path}" does not exist: give its whole text as "content" to create it`);
        continue;
      }
      const r = replaceOnce(entry.text, edit.search, edit.replace, edit.path);
      if ("problem" in r) {
        problems.push(r.problem);
        continue;
      }
      entry.text = r.text;
    }
    if (Buffer.byteLength(entry.text) > MAX_FILE_BYTES) {
      problems.push(`"${edit.path}" would be larger than ${MAX_FILE_BYTES} bytes`);
      continue;
    }
    next.set(key, entry);
  }

  if (problems.length) throw new EditRejected(problems);

  // The edits are written, then cargo reads the manifests (every TOML spelling) and anything
  // refused is undone: nothing runs in between, and the caller sees no change.
  const changed = [...next.entries()].filter(([, e]) => e.before !== e.text);
  const manifests = changed.filter(([rel]) => path.posix.basename(rel) === "Cargo.toml");
  const manifestChanged = manifests.length > 0;
  const noFacts: ManifestFacts = { gitDependencies: [], pathDependencies: [], buildScripts: [] };
  const factsBefore = manifestChanged ? await manifestFacts(root, readManifests).catch(() => noFacts) : noFacts;
  for (const [, entry] of changed) {
    if (entry.text === null) {
      await fs.rm(entry.full, { force: true });
      continue;
    }
    await fs.mkdir(path.dirname(entry.full), { recursive: true });
    await fs.writeFile(entry.full, entry.text);
  }
  const buildScripts = new Set([...next.entries()].filter(([rel, e]) => path.posix.basename(rel) === "build.rs" && e.text !== null).map(([rel]) => rel));
  if (manifestChanged) {
    await manifestFacts(root, readManifests).then(
      (factsAfter) => {
        problems.push(...manifestProblems(root, factsBefore, factsAfter));
        for (const [rel, e] of manifests) if (e.text !== null) problems.push(...manifestTextProblems(rel, e.before, e.text));
        for (const script of newBuildScripts(factsBefore, factsAfter)) buildScripts.add(script);
      },
      (err: Error) => problems.push(`cargo cannot read the edited Cargo.toml: ${err.message.split("\n").slice(0, 6).join(" ")}`),
    );
  }
  problems.push(...(await networkUse(root, buildScripts)));
  if (problems.length) {
    for (const [, entry] of changed) {
      if (entry.before === null) await fs.rm(entry.full, { force: true });
      else await fs.writeFile(entry.full, entry.before);
    }
    throw new EditRejected(problems);
  }
  return { changed: changed.map(([rel]) => rel) };
}

/** Build scripts among `scripts` (files of the crate, as edited) that would use the network. */
async function networkUse(root: string, scripts: Set<string>): Promise<string[]> {
  const problems: string[] = [];
  for (const rel of scripts) {
    const read = await readWorkspaceFile(root, rel);
    const text = "text" in read ? read.text : "";
    if (NETWORK_USE.test(text)) problems.push(`the build script "${rel}" would use the network, which build scripts may not do`);
  }
  return problems;
}
