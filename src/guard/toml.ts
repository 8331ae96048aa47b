// Reads which keys a TOML document sets, in every spelling TOML has: table headers, arrays
// of tables, dotted and quoted keys (with escapes), inline tables and arrays. The manifest
// guard needs what cargo metadata does not report ([patch], [replace], a target's
// `harness`). It is a reader of structure, not a validator: it may accept TOML cargo would
// refuse (cargo reads the manifest too, and refuses it then), but it reads every key of a
// document cargo accepts where cargo reads it.

/** One scalar the document sets: its key path (arrays by index) and its value. */
export interface TomlLeaf {
  path: string[];
  /** A string's decoded text; any other scalar as written. */
  value: string;
}

export class TomlError extends Error {}

const BARE_KEY = /[A-Za-z0-9_-]/;

export function tomlLeaves(text: string): TomlLeaf[] {
  return new Reader(text).document();
}

class Reader {
  private i = 0;
  private readonly leaves: TomlLeaf[] = [];
  /** How many [[...]] entries each array of tables has so far (by its path without indexes). */
  private readonly arrays = new Map<string, number>();

  constructor(private readonly s: string) {}

  document(): TomlLeaf[] {
    let table: string[] = [];
    for (;;) {
      this.skipBlank();
      if (this.i >= this.s.length) return this.leaves;
      if (this.s.startsWith("[[", this.i)) {
        this.i += 2;
        const key = this.headerKey("]]");
        const id = key.join("\0");
        this.arrays.set(id, (this.arrays.get(id) ?? 0) + 1);
        table = this.resolve(key);
      } else if (this.s[this.i] === "[") {
        this.i += 1;
        table = this.resolve(this.headerKey("]"));
      } else {
        this.keyValue(table);
      }
      this.endOfLine();
    }
  }

  /** A header's key up to its closing brackets. */
  private headerKey(close: string): string[] {
    this.skipSpace();
    const key = this.key();
    this.skipSpace();
    if (!this.s.startsWith(close, this.i)) this.fail(`expected ${close}`);
    this.i += close.length;
    return key;
  }

  /** A header's key as a path, with the current index of each array of tables on the way. */
  private resolve(key: string[]): string[] {
    const out: string[] = [];
    key.forEach((part, j) => {
      out.push(part);
      const count = this.arrays.get(key.slice(0, j + 1).join("\0"));
      if (count) out.push(String(count - 1));
    });
    return out;
  }

  private keyValue(prefix: string[]): void {
    const key = this.key();
    this.skipSpace();
    if (this.s[this.i] !== "=") this.fail("expected =");
    this.i += 1;
    this.skipSpace();
    this.value([...prefix, ...key]);
  }

  /** A dotted key: simple keys joined by dots, spaces allowed around the dots. */
  private key(): string[] {
    const parts = [this.simpleKey()];
    for (;;) {
      const at = this.i;
      this.skipSpace();
      if (this.s[this.i] !== ".") {
        this.i = at;
        return parts;
      }
      this.i += 1;
      this.skipSpace();
      parts.push(this.simpleKey());
    }
  }

  private simpleKey(): string {
    const c = this.s[this.i];
    if (c === '"') return this.basicString();
    if (c === "'") return this.literalString();
    const start = this.i;
    while (this.i < this.s.length && BARE_KEY.test(this.s[this.i])) this.i++;
    if (this.i === start) this.fail("expected a key");
    return this.s.slice(start, this.i);
  }

  private value(path: string[]): void {
    const s = this.s;
    const c = s[this.i];
    if (s.startsWith('"""', this.i)) return this.leaf(path, this.multiline('"""', true));
    if (s.startsWith("'''", this.i)) return this.leaf(path, this.multiline("'''", false));
    if (c === '"') return this.leaf(path, this.basicString());
    if (c === "'") return this.leaf(path, this.literalString());
    if (c === "[") return this.array(path);
    if (c === "{") return this.inlineTable(path);
    const start = this.i;
    while (this.i < s.length && !/[\s,\]}#]/.test(s[this.i])) this.i++;
    // A date and a time may be separated by a space.
    if (/^\d{4}-\d{2}-\d{2}$/.test(s.slice(start, this.i)) && / \d{2}:/.test(s.slice(this.i, this.i + 4))) {
      this.i++;
      while (this.i < s.length && !/[\s,\]}#]/.test(s[this.i])) this.i++;
    }
    if (this.i === start) this.fail("expected a value");
    this.leaf(path, s.slice(start, this.i));
  }

  private leaf(path: string[], value: string): void {
    this.leaves.push({ path, value });
  }

  private array(path: string[]): void {
    this.i += 1;
    for (let n = 0; ; n++) {
      this.skipBlank();
      if (this.s[this.i] === "]") break;
      this.value([...path, String(n)]);
      this.skipBlank();
      if (this.s[this.i] === ",") this.i += 1;
      else if (this.s[this.i] !== "]") this.fail("expected , or ] in an array");
    }
    this.i += 1;
  }

  // Newlines and a trailing comma are allowed (TOML 1.1): reading more than 1.0 is safe here.
  private inlineTable(path: string[]): void {
    this.i += 1;
    for (;;) {
      this.skipBlank();
      if (this.s[this.i] === "}") break;
      this.keyValue(path);
      this.skipBlank();
      if (this.s[this.i] === ",") this.i += 1;
      else if (this.s[this.i] !== "}") this.fail("expected , or } in an inline table");
    }
    this.i += 1;
  }

  private basicString(): string {
    this.i += 1;
    let out = "";
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === "\n") this.fail("unterminated string");
      if (c === '"') {
        this.i += 1;
        return out;
      }
      if (c === "\\") out += this.escape();
      else {
        out += c;
        this.i += 1;
      }
    }
  }

  private literalString(): string {
    const end = this.s.indexOf("'", this.i + 1);
    const nl = this.s.indexOf("\n", this.i + 1);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail("unterminated literal string");
    const text = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return text;
  }

  /** A multi-line string: up to two quotes may end its content just before the delimiter. */
  private multiline(delim: string, escapes: boolean): string {
    this.i += 3;
    if (this.s.startsWith("\r\n", this.i)) this.i += 2;
    else if (this.s[this.i] === "\n") this.i += 1;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated multi-line string");
      if (this.s.startsWith(delim, this.i)) {
        let extra = 0;
        while (extra < 2 && this.s[this.i + 3 + extra] === delim[0]) extra++;
        out += delim[0].repeat(extra);
        this.i += 3 + extra;
        return out;
      }
      const c = this.s[this.i];
      if (escapes && c === "\\") {
        const rest = /^\\[ \t]*\r?\n[\s]*/.exec(this.s.slice(this.i, this.i + 4096));
        if (rest) this.i += rest[0].length; // a line-ending backslash
        else out += this.escape();
      } else {
        out += c;
        this.i += 1;
      }
    }
  }

  private escape(): string {
    const c = this.s[this.i + 1];
    const simple: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", e: "\x1b", '"': '"', "\\": "\\" };
    if (c in simple) {
      this.i += 2;
      return simple[c];
    }
    const digits = c === "u" ? 4 : c === "U" ? 8 : c === "x" ? 2 : 0;
    const hex = this.s.slice(this.i + 2, this.i + 2 + digits);
    if (!digits || !new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex)) this.fail("invalid escape");
    const code = parseInt(hex, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail("invalid escape");
    this.i += 2 + digits;
    return String.fromCodePoint(code);
  }

  private skipSpace(): void {
    while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
  }

  /** Spaces, newlines and comments. */
  private skipBlank(): void {
    for (;;) {
      this.skipSpace();
      const c = this.s[this.i];
      if (c === "\n" || c === "\r") this.i++;
      else if (c === "#") while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      else return;
    }
  }

  private endOfLine(): void {
    this.skipSpace();
    if (this.s[this.i] === "#") while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
    if (this.s[this.i] === "\r") this.i++;
    if (this.i < this.s.length && this.s[this.i] !== "\n") this.fail("expected the end of the line");
  }

  private fail(what: string): never {
    const line = this.s.slice(0, this.i).split("\n").length;
    throw new TomlError(`${what} at line ${line}`);
  }
}
