// Upstream test code is read-only to the LLM: this module reads the test functions and
// their helpers out of the Rust sources (a light lexer: comments and string contents are
// blanked so braces inside them do not count) and says which ones a change touched. What
// the tests still run and pass is checked on the run itself (test-gate.ts).
import fs from "node:fs/promises";
import path from "node:path";

export interface TestFn {
  file: string;
  /** The function's own name. */
  name: string;
  /** Its name within the file's inline modules ("tests::counts"), as libtest shows it. */
  path: string;
  /** A test function (#[test] and kin), not a helper. */
  test: boolean;
  ignored: boolean;
  /** Its attributes, signature and body with runs of white space made one space. */
  code: string;
  /**
   * The attributes around it that decide whether it is compiled at all: its file's inner
   * attributes and those of each module it is in (`#[cfg(any())] mod tests` switches every
   * test in it off while their code stays the same).
   */
  context: string;
}

/** Test code by `file::path` (a `#n` suffix tells same-named ones in one file apart). */
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

/** The attributes written just before position `at`, where each is written (`#` to `]`) and where the first starts. */
function attributesBefore(text: string, at: number): { attrs: string[]; spans: Span[]; start: number } {
  const attrs: string[] = [];
  const spans: Span[] = [];
  let start = at;
  let k = at - 1;
  for (;;) {
    while (k >= 0 && /\s/.test(text[k])) k--;
    if (text[k] !== "]") return { attrs, spans, start };
    let depth = 0;
    let j = k;
    for (; j >= 0; j--) {
      if (text[j] === "]") depth++;
      else if (text[j] === "[" && --depth === 0) break;
    }
    let h = j - 1;
    while (h >= 0 && /\s/.test(text[h])) h--;
    if (j < 0 || text[h] !== "#") return { attrs, spans, start };
    attrs.unshift(text.slice(j + 1, k).trim());
    spans.unshift([h, k + 1]);
    start = h;
    k = h - 1;
  }
}

const FN = /((?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:const|async|unsafe)\s+)*(?:extern\s+"[^"]*"\s+)?)fn\s+([A-Za-z_]\w*)/g;
const MOD = /\bmod\s+([A-Za-z_]\w*)\s*\{/g;
const TEST_ATTR = /^(?:[\w]+::)*(?:test|rstest|test_case|quickcheck|proptest)\b/;

const MOD_DECL = /\bmod\s+([A-Za-z_]\w*)\s*;/g;
const CFG_TEST = /^cfg\s*\(\s*test\s*\)$/;

interface ModRange {
  name: string;
  from: number;
  to: number;
  cfgTest: boolean;
  /** Its outer and inner attributes as written (see TestFn.context). */
  context: string;
}

type Span = [from: number, to: number];

/** Where the inner attributes (`#![...]`) written from `at` on are. */
function innerAttributes(text: string, at: number): Span[] {
  const spans: Span[] = [];
  let k = at;
  for (;;) {
    let j = k;
    while (j < text.length && /\s/.test(text[j])) j++;
    if (!text.startsWith("#!", j)) return spans;
    let h = j + 2;
    while (h < text.length && /\s/.test(text[h])) h++;
    if (text[h] !== "[") return spans;
    const close = matchForward(text, h, "[", "]");
    if (close < 0) return spans;
    spans.push([j, close + 1]);
    k = close + 1;
  }
}

/** Source text with runs of white space made one space. */
function squeeze(src: string): string {
  return src.replace(/\s+/g, " ").trim();
}

// Lint levels, docs and formatting never decide whether a test is compiled or run.
const INERT_ATTR = /^#!?\s*\[\s*(?:allow|warn|deny|forbid|expect|doc|rustfmt::\w+|clippy::\w+)\b/;

/**
 * The attributes written at `spans` that can decide whether code is compiled (cfg,
 * cfg_attr, path, macros...), as written in `src`: sliced from the source, not the blanked
 * text, so that cfg(feature = "x") keeps its string.
 */
function compileAttributes(src: string, spans: Span[]): string {
  return spans
    .map(([from, to]) => squeeze(src.slice(from, to)))
    .filter((a) => !INERT_ATTR.test(a))
    .join(" ");
}

function modules(text: string, src: string): ModRange[] {
  const mods: ModRange[] = [];
  for (const m of text.matchAll(MOD)) {
    const open = m.index + m[0].length - 1;
    const close = matchForward(text, open, "{", "}");
    const { attrs, spans } = attributesBefore(text, m.index);
    const context = squeeze(`${compileAttributes(src, spans)} mod ${m[1]} { ${compileAttributes(src, innerAttributes(text, open + 1))}`);
    mods.push({ name: m[1], from: m.index, to: close < 0 ? text.length : close, cfgTest: attrs.some((a) => CFG_TEST.test(a)), context });
  }
  return mods;
}

/**
 * Out-of-line test modules (`#[cfg(test)] mod tests;`): their declaration decides whether
 * the file they name is compiled, so it is test code too.
 */
function testModuleDeclarations(file: string, text: string, src: string): TestFn[] {
  const found: TestFn[] = [];
  for (const m of text.matchAll(MOD_DECL)) {
    const { attrs, spans } = attributesBefore(text, m.index);
    if (!attrs.some((a) => CFG_TEST.test(a))) continue;
    const decl = `mod ${m[1]};`;
    found.push({ file, name: decl, path: decl, test: false, ignored: false, code: squeeze(`${compileAttributes(src, spans)} ${decl}`), context: "" });
  }
  return found;
}

/**
 * The test code of one Rust source file: every test function, and every other function
 * inside a `#[cfg(test)]` module or in a file under tests/ (helpers that tests call).
 */
export function testsInSource(file: string, src: string): TestFn[] {
  const text = blankRust(src);
  const mods = modules(text, src);
  const fileAttrs = compileAttributes(src, innerAttributes(text, 0));
  const testFile = file.split("/").includes("tests");
  const found: TestFn[] = [];
  for (const m of text.matchAll(FN)) {
    const { attrs, start } = attributesBefore(text, m.index);
    const isTest = attrs.some((a) => TEST_ATTR.test(a));
    const within = mods.filter((r) => r.from < m.index && m.index < r.to);
    if (!isTest && !testFile && !within.some((r) => r.cfgTest)) continue;
    const open = text.indexOf("{", m.index);
    const semi = text.indexOf(";", m.index);
    if (open < 0 || (semi >= 0 && semi < open)) continue; // a declaration without a body
    const close = matchForward(text, open, "{", "}");
    const end = close < 0 ? text.length : close + 1;
    found.push({
      file,
      name: m[2],
      path: [...within.map((r) => r.name), m[2]].join("::"),
      test: isTest,
      ignored: attrs.some((a) => /\bignore\b/.test(a)),
      code: squeeze(src.slice(start, end)),
      context: [fileAttrs, ...within.map((r) => r.context)].filter(Boolean).join(" "),
    });
  }
  return [...found, ...testModuleDeclarations(file, text, src)];
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

// A macro by an assertion's name would quietly change what every test checks.
const SHADOW = /\bmacro_rules!\s*((?:debug_)?assert\w*|panic|unreachable|unimplemented|todo)\b/g;
const SHADOW_PREFIX = "macro_rules! ";

/** Macros defined in a source file that take an assertion's name (as pieces of test code). */
function assertionMacros(file: string, src: string): TestFn[] {
  return [...blankRust(src).matchAll(SHADOW)].map((m) => ({ file, name: `${m[1]}!`, path: `${SHADOW_PREFIX}${m[1]}`, test: false, ignored: false, code: "", context: "" }));
}

/** Every test function under `root` (build output and hidden directories skipped). */
export async function scanTests(root: string): Promise<TestInventory> {
  const inventory: TestInventory = new Map();
  for (const full of await rustFiles(root)) {
    const rel = path.relative(root, full).split(path.sep).join("/");
    const src = await fs.readFile(full, "utf8");
    for (const t of [...testsInSource(rel, src), ...assertionMacros(rel, src)]) {
      let key = `${rel}::${t.path}`;
      for (let n = 2; inventory.has(key); n++) key = `${rel}::${t.path}#${n}`;
      inventory.set(key, t);
    }
  }
  return inventory;
}

/** Whether an entry of allow_test_changes names this piece of test code. */
export function allowedBy(allow: readonly string[], key: string, t: TestFn): string | undefined {
  return allow.find((a) => a === t.name || a === t.path || a === key || t.path.endsWith(`::${a}`));
}

export interface TestCodeChange {
  key: string;
  /** What happened to it, in words. */
  what: string;
  /** The allow_test_changes entry that permits it, if any. */
  allowedBy?: string;
}

/**
 * What a change did to the upstream test code: each test or test helper that was changed,
 * deleted or renamed. Upstream test code is read-only unless `allow` names it.
 */
export function testCodeChanges(upstream: TestInventory, now: TestInventory, allow: readonly string[] = []): TestCodeChange[] {
  const changes: TestCodeChange[] = [];
  for (const [key, old] of upstream) {
    const cur = now.get(key);
    if (cur && cur.code === old.code && cur.context === old.context) continue;
    const kind = old.test ? "test" : old.path.startsWith("mod ") ? "test module declaration" : "test helper";
    const what = !cur
      ? `the upstream ${kind} ${key} was deleted, renamed or moved`
      : cur.ignored && !old.ignored
        ? `the upstream ${kind} ${key} was marked #[ignore]`
        : cur.code === old.code
          ? `the attributes of the module or file around the upstream ${kind} ${key} were changed (they decide whether it is compiled at all)`
          : `the upstream ${kind} ${key} was changed`;
    changes.push({ key, what, allowedBy: allowedBy(allow, key, old) });
  }
  for (const [key, t] of now) {
    if (!upstream.has(key) && t.path.startsWith(SHADOW_PREFIX)) changes.push({ key, what: `${t.file} defines a macro ${t.name}, which would replace the assertion every test uses` });
  }
  return changes;
}

/** The refusal for changes that are not allowed: which test blocks and how to allow it. */
export function testCodeRefusal(changes: TestCodeChange[]): string[] {
  return changes
    .filter((c) => !c.allowedBy)
    .map((c) => {
      if (c.key.includes(SHADOW_PREFIX)) return `${c.what}: the tests' assertions may not be redefined`;
      const name = c.key.split("::").slice(1).join("::").replace(/#\d+$/, "");
      return `${c.what}: upstream test code is read-only. Change the program, not its tests; if the user wants the behaviour this test pins changed, they must name it in craft_tool's allow_test_changes (["${name}"])`;
    });
}
