// The guarantee Flakebot sells: a change may add tests but never delete, ignore or weaken
// the ones that were there, and the number of passing tests never goes down. This module
// reads the test functions out of the Rust sources (a light lexer: comments and string
// contents are blanked so braces and brackets inside them do not count) and compares two
// inventories.
import fs from "node:fs/promises";
import path from "node:path";

export interface TestFn {
  file: string;
  name: string;
  ignored: boolean;
  should_panic: boolean;
  /** Assertion macros in the body (assert!, assert_eq!, panic!...). */
  asserts: number;
}

/** Test functions by `file::name` (a `#n` suffix tells same-named ones in one file apart). */
export type TestInventory = Map<string, TestFn>;

const SKIP_DIRS = new Set(["target", "node_modules"]);
const MAX_FILES = 20_000;

/** The source with comments and the contents of string and char literals replaced by spaces. */
export function blankRust(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      let j = i + 2;
      while (j < src.length && depth > 0) {
        if (src[j] === "/" && src[j + 1] === "*") (depth++, (j += 2));
        else if (src[j] === "*" && src[j + 1] === "/") (depth--, (j += 2));
        else j++;
      }
      blank(i, j);
      i = j;
    } else if (/[rbc]/.test(c) && !/\w/.test(src[i - 1] ?? "")) {
      const raw = /^(?:br|cr|r)(#*)"/.exec(src.slice(i, i + 260));
      if (raw) {
        const close = `"${raw[1]}`;
        const start = i + raw[0].length;
        const end = src.indexOf(close, start);
        const stop = end < 0 ? src.length : end;
        blank(start, stop);
        i = stop + close.length;
      } else if ((c === "b" || c === "c") && next === '"') {
        i = skipString(src, i + 1, blank);
      } else i++;
    } else if (c === '"') {
      i = skipString(src, i, blank);
    } else if (c === "'") {
      const lit = /^'(?:\\(?:u\{[0-9a-fA-F]{1,6}\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'/u.exec(src.slice(i, i + 16));
      if (lit) {
        blank(i + 1, i + lit[0].length - 1);
        i += lit[0].length;
      } else i++; // a lifetime
    } else i++;
  }
  return out.join("");
}

function skipString(src: string, quote: number, blank: (a: number, b: number) => void): number {
  let j = quote + 1;
  while (j < src.length && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
  blank(quote + 1, Math.min(j, src.length));
  return j + 1;
}

/** Index of the bracket that closes the one at `open` (same kind), or -1. */
function matchForward(text: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let k = open; k < text.length; k++) {
    if (text[k] === o) depth++;
    else if (text[k] === c && --depth === 0) return k;
  }
  return -1;
}

/** The attributes written just before position `at` (which starts a fn's qualifiers). */
function attributesBefore(text: string, at: number): string[] {
  const attrs: string[] = [];
  let k = at - 1;
  for (;;) {
    while (k >= 0 && /\s/.test(text[k])) k--;
    if (text[k] !== "]") return attrs;
    let depth = 0;
    let j = k;
    for (; j >= 0; j--) {
      if (text[j] === "]") depth++;
      else if (text[j] === "[" && --depth === 0) break;
    }
    let h = j - 1;
    while (h >= 0 && /\s/.test(text[h])) h--;
    if (j < 0 || text[h] !== "#") return attrs;
    attrs.unshift(text.slice(j + 1, k).trim());
    k = h - 1;
  }
}

const FN = /((?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:const|async|unsafe)\s+)*(?:extern\s+"[^"]*"\s+)?)fn\s+([A-Za-z_]\w*)/g;
const TEST_ATTR = /^(?:[\w]+::)*(?:test|rstest|test_case|quickcheck|proptest)\b/;
const ASSERT = /\b(?:assert\w*|debug_assert\w*|prop_assert\w*|panic|unreachable|unimplemented|todo)\s*!/g;

/** The test functions of one Rust source file. */
export function testsInSource(file: string, src: string): TestFn[] {
  const text = blankRust(src);
  const found: TestFn[] = [];
  for (const m of text.matchAll(FN)) {
    const attrs = attributesBefore(text, m.index);
    if (!attrs.some((a) => TEST_ATTR.test(a))) continue;
    const open = text.indexOf("{", m.index);
    const close = open < 0 ? -1 : matchForward(text, open, "{", "}");
    const body = open < 0 ? "" : text.slice(open, close < 0 ? text.length : close + 1);
    found.push({
      file,
      name: m[2],
      ignored: attrs.some((a) => /\bignore\b/.test(a)),
      should_panic: attrs.some((a) => /^should_panic\b/.test(a)),
      asserts: (body.match(ASSERT) ?? []).length,
    });
  }
  return found;
}

async function rustFiles(root: string, dir = root, acc: string[] = []): Promise<string[]> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (acc.length >= MAX_FILES) break;
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) await rustFiles(root, full, acc);
    else if (entry.isFile() && entry.name.endsWith(".rs")) acc.push(full);
  }
  return acc;
}

/** Every test function under `root` (build output and hidden directories skipped). */
export async function scanTests(root: string): Promise<TestInventory> {
  const inventory: TestInventory = new Map();
  for (const full of await rustFiles(root)) {
    const rel = path.relative(root, full).split(path.sep).join("/");
    for (const t of testsInSource(rel, await fs.readFile(full, "utf8"))) {
      let key = `${rel}::${t.name}`;
      for (let n = 2; inventory.has(key); n++) key = `${rel}::${t.name}#${n}`;
      inventory.set(key, t);
    }
  }
  return inventory;
}

/** What a change did to the tests that were there: each entry is one reason to refuse it. */
export function compareTests(before: TestInventory, after: TestInventory): string[] {
  const problems: string[] = [];
  for (const [key, old] of before) {
    const now = after.get(key);
    if (!now) problems.push(`the test ${key} was deleted or renamed`);
    else if (now.ignored && !old.ignored) problems.push(`the test ${key} was marked #[ignore]`);
    else if (now.should_panic && !old.should_panic) problems.push(`the test ${key} was marked #[should_panic]`);
    else if (now.asserts < old.asserts) problems.push(`the test ${key} lost assertions (${old.asserts} before, ${now.asserts} now)`);
  }
  return problems;
}

/** The passing count may never go down. */
export function passCountProblem(before: number, after: number): string | undefined {
  return after < before ? `the number of passing tests went down from ${before} to ${after}` : undefined;
}

export function countNew(before: TestInventory, after: TestInventory): number {
  let n = 0;
  for (const key of after.keys()) if (!before.has(key)) n++;
  return n;
}
