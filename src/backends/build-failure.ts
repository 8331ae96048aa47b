// A failed build's message, root cause first: the first error from rustc, cargo or a build
// script (not the forty lines of warnings before it), then what to do, then the details. A
// rust-toolchain pin is named when the failure looks like the toolchain's.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Diagnostic } from "./cargo/cargo.js";

const DETAILS_CAP = 6000;
const PIN_FILES = ["rust-toolchain.toml", "rust-toolchain"];
const TOOLCHAIN_TROUBLE = /rustc|toolchain|channel|#!\[feature|E0554|E0658|edition|is not supported|requires rust|unstable|syncing channel updates/i;

/** The toolchain a project pins, as written in rust-toolchain(.toml), with the file's name. */
export function toolchainPin(workspace: string): { file: string; channel: string } | undefined {
  for (const file of PIN_FILES) {
    const p = path.join(workspace, file);
    if (!existsSync(p)) continue;
    let text = "";
    try {
      text = readFileSync(p, "utf8").slice(0, 4096);
    } catch {
      continue;
    }
    const channel = /channel\s*=\s*"([^"]+)"/.exec(text)?.[1] ?? text.trim().split("\n")[0]?.trim() ?? "";
    return { file, channel: channel.slice(0, 60) || "(unreadable)" };
  }
  return undefined;
}

interface Cause {
  text: string;
  todo: string;
}

/** The first error and what to do about it. */
export function rootCause(diagnostics: Diagnostic[], output: string): Cause {
  const script = /failed to run custom build command for `([^`]+)`/.exec(output);
  if (script) {
    const stderr = output.split(/--- stderr\n/)[1] ?? "";
    const first = stderr.split("\n").map((l) => l.trim()).find((l) => l && !/^(warning|cargo:|thread '[^']*'.* panicked at)/.test(l)) ?? "";
    const missing = /(?:could not find|not found|No such file or directory|is `?([\w.-]+)`? (?:not )?installed)/i.test(first);
    return {
      text: `the build script of ${script[1]} failed${first ? `: ${first.slice(0, 300)}` : ""}`,
      todo: missing
        ? "It needs a system tool or library this machine lacks: install it where Flakebot runs (a -dev package for a library), or choose another crate"
        : "Choose another version or crate, or let the LLM change it (modify \"always\")",
    };
  }
  const error = diagnostics.find((d) => d.level === "error");
  if (error) {
    const where = error.file ? ` (${error.file}${error.line ? `:${error.line}` : ""})` : "";
    return { text: `${error.message}${where}`, todo: "The code does not build with this toolchain and these dependencies: choose another version or crate, or let the LLM fix it (modify \"always\")" };
  }
  const line = output.split("\n").map((l) => l.trim()).find((l) => /^error(\[E\d+\])?:/.test(l));
  if (line) {
    const lock = /lock file|Cargo\.lock|failed to select a version|no matching package/i.test(line);
    return {
      text: line.replace(/^error(\[E\d+\])?:\s*/, "").slice(0, 300),
      todo: lock
        ? "A dependency is not available from the configured registry: check CARGO_HOME's source replacement, or choose another version"
        : "Check the build log (describe_tool's log_tail), then choose another version or crate",
    };
  }
  const last = output.trim().split("\n").pop()?.trim() ?? "";
  return { text: last.slice(0, 300) || "no error message", todo: "Check the build log (describe_tool's log_tail)" };
}

const PIN_IS_LIKELY = (pin: { file: string; channel: string }) =>
  `The project pins the Rust toolchain to ${pin.channel} in ${pin.file}; Flakebot builds with this machine's toolchain instead, which may be why: choose a version of the crate that builds with a current Rust, or let the LLM update the code (modify "always").`;

/** An old numbered pin (`1.46.0`) makes any compiler error suspect; `stable` or `nightly` does not. */
const numberedPin = (pin: { channel: string }) => /^\d+\.\d+/.test(pin.channel);

/** A failure message with the project's rust-toolchain pin named when it looks like the cause. */
export function withToolchainNote(message: string, workspace: string): string {
  const pin = toolchainPin(workspace);
  return pin && TOOLCHAIN_TROUBLE.test(message) ? `${message.replace(/[\s:]+$/, "")}. ${PIN_IS_LIKELY(pin)}` : message;
}

/** "cargo build failed: <cause>. <what to do>." then the error messages in full. */
export function buildFailureMessage(tool: string, diagnostics: Diagnostic[], output: string, workspace: string): string {
  const cause = rootCause(diagnostics, output);
  const pin = toolchainPin(workspace);
  const details = diagnostics.filter((d) => d.level === "error").slice(0, 5).map((d) => d.rendered.trim()).join("\n\n") || output.trim();
  const compilerError = diagnostics.some((d) => d.level === "error");
  const todo = pin && (TOOLCHAIN_TROUBLE.test(`${cause.text}\n${output}`) || (compilerError && numberedPin(pin))) ? PIN_IS_LIKELY(pin) : `${cause.todo}.`;
  const lines = [`${tool} failed: ${cause.text.replace(/[\s:.]+$/, "")}. ${todo}`];
  if (details) lines.push("", details.length > DETAILS_CAP ? `${details.slice(0, DETAILS_CAP)}\n[...]` : details);
  return lines.join("\n");
}
