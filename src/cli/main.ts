// The command line: the same core as the server, on the same state directory.
// Exit codes: 0 success, 1 a failure the message explains, 2 bad usage.
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { Flakebot, quarantineMessage } from "../app.js";
import { UserError } from "../model/errors.js";
import { craftView } from "../model/view.js";
import type { Craft } from "../model/craft.js";
import { parseCraftRequest } from "../model/request.js";
import { VERSION } from "../version.js";
import { selectProvider } from "../llm/select.js";
import { formatTable } from "./table.js";
import { ProgressDisplay } from "./progress.js";

export const HELP = `flakebot ${VERSION}: craft the tool an agent is missing, as an MCP server.

Usage:
  flakebot [serve]                          the MCP server on stdio (what MCP clients start)
  flakebot craft "<instructions>" (--source PATH|URL | --crate NAME) [--rev R] [--name N]
                 [--package P] [--bin B] [--features A,B] [--modify auto|never|always] [--kind command|service]
                 [--allow-test-change TEST]... [--json]
  flakebot list [--json]                    the crafted tools
  flakebot describe NAME [--json]           status, provenance, usage and log tail of one tool
  flakebot run NAME [-- ARGS...]            run a crafted tool (stdin is passed through)
  flakebot dispose NAME                     remove a tool and everything it left
  flakebot doctor                           check cargo, nix, bwrap, git, keys and reachability
  flakebot --help | --version

Exit codes: 0 success; 1 a failure (the message says what to do); 2 bad usage.
State lives in FLAKEBOT_HOME (default ~/.local/state/flakebot); see the README for every variable.`;

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

async function startApp(): Promise<Flakebot> {
  const config = loadConfig();
  const app = new Flakebot(config, { llm: () => selectProvider(config) });
  await app.start();
  return app;
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0];
}

async function readStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function craftCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      source: { type: "string" },
      crate: { type: "string" },
      rev: { type: "string" },
      name: { type: "string" },
      package: { type: "string" },
      bin: { type: "string" },
      features: { type: "string" },
      modify: { type: "string", default: "auto" },
      kind: { type: "string", default: "command" },
      "allow-test-change": { type: "string", multiple: true },
      json: { type: "boolean", default: false },
    },
  });
  const instructions = one(positionals, "instructions argument (quote it)");
  const parsed = parseCraftRequest({
    instructions,
    name: values.name,
    source: values.source,
    crate: values.crate,
    rev: values.rev,
    package: values.package,
    bin: values.bin,
    features: values.features?.split(",").map((f) => f.trim()).filter(Boolean),
    modify: values.modify,
    kind: values.kind,
    ...(values["allow-test-change"]?.length ? { allow_test_changes: values["allow-test-change"] } : {}),
  });
  if ("problem" in parsed) throw new UsageError(parsed.problem);
  const request = parsed.request;
  const app = await startApp();
  const display = new ProgressDisplay(process.stderr);
  const stop = () => void app.close().then(() => process.exit(130));
  process.once("SIGINT", stop);
  try {
    const started = await app.craft(request);
    display.start(started);
    const done = await app.wait(started.name, Number.MAX_SAFE_INTEGER, (c, note) => display.update(c, note));
    display.finish(done);
    if (values.json) out(JSON.stringify(craftView(done), null, 2));
    else out(done.status === "ready" ? `Tool "${done.name}" is ready.\n\n${done.usage ?? ""}` : `Crafting "${done.name}" failed at stage ${done.stage}:\n${done.error ?? done.message}`);
    return done.status === "ready" ? 0 : 1;
  } finally {
    process.off("SIGINT", stop);
    await app.close();
  }
}

function describeText(craft: Craft, logTail: string[]): string {
  const rows: [string, string][] = [
    ["name", craft.name],
    ...(craft.renamed_from ? [["also", `${craft.renamed_from} (its first name, until it is disposed)`] as [string, string]] : []),
    ["status", `${craft.status}${craft.stage ? ` (stage ${craft.stage})` : ""}`],
    ["message", craft.message],
    ["instructions", craft.request.instructions],
  ];
  if (craft.crate) rows.push(["crate", `${craft.crate.name} ${craft.crate.version}${craft.crate.repository ? ` (${craft.crate.repository})` : ""}`]);
  if (craft.source) rows.push(["source", `${craft.source.url}${craft.source.rev ? ` @ ${craft.source.rev}` : ""} commit ${craft.source.commit}${craft.source.dirty ? " (with uncommitted changes)" : ""}`]);
  if (craft.source?.fork) rows.push(["fork", craft.source.fork]);
  if (craft.target) rows.push(["target", `package ${craft.target.package} ${craft.target.version}, binary ${craft.target.bin}`]);
  if (craft.build) {
    rows.push(["backend", `${craft.build.backend}${craft.build.reproducible ? " (reproducible)" : " (not reproducible: cargo fallback)"}${craft.build.cached ? ", cached" : ""}`]);
    rows.push(["binary", craft.build.binary]);
    if (craft.build.flake_ref) rows.push(["flake", craft.build.flake_ref]);
  }
  if (craft.tests) rows.push(["tests", `${craft.tests.passed} passed, ${craft.tests.failed} failed; acceptance ${craft.tests.acceptance_passed} passed, ${craft.tests.acceptance_failed} failed`]);
  if (craft.sandboxed !== undefined) rows.push(["sandboxed", craft.sandboxed ? "yes (bwrap)" : "no"]);
  if (craft.service) rows.push(["service", `${craft.service.state} at ${craft.service.url}, ${craft.service.restarts} restart(s)`]); // issue 9
  if (craft.definition_sha256) rows.push(["definition", `sha256 ${craft.definition_sha256}`]);
  rows.push(["created", craft.created_at]);
  if (craft.last_used_at) rows.push(["last used", craft.last_used_at]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (craft.error) lines.push("", "error:", craft.error);
  if (craft.usage && craft.status === "ready") lines.push("", craft.usage);
  if (logTail.length) lines.push("", "log tail:", ...logTail.map((l) => `  ${l}`));
  return lines.join("\n");
}

type Quarantined = { name: string; reason: string };

/** `list --json`: every tool by name, a quarantined one with its state and why. */
function listView(crafts: Craft[], quarantined: Quarantined[]): Record<string, unknown>[] {
  const views = [
    ...crafts.map(craftView),
    ...quarantined.map((q) => ({ status: "quarantined", tool: q.name, reason: q.reason, message: quarantineMessage(q.name, q.reason) })),
  ];
  return views.sort((a, b) => String(a.tool).localeCompare(String(b.tool)));
}

function listTable(crafts: Craft[], quarantined: Quarantined[]): string {
  const when = (iso: string) => iso.slice(0, 19).replace("T", " ");
  const rows = crafts.map((c) => [
    c.name,
    c.status,
    c.crate?.name ?? c.target?.package ?? "-",
    c.crate?.version ?? c.target?.version ?? "-",
    c.build ? c.build.backend : "-",
    c.sandboxed === undefined ? "-" : c.sandboxed ? "yes" : "no",
    when(c.created_at),
    c.last_used_at ? when(c.last_used_at) : "never",
  ]);
  rows.push(...quarantined.map((q) => [q.name, "quarantined", "-", "-", "-", "-", "-", "-"]));
  rows.sort((a, b) => a[0].localeCompare(b[0]));
  return formatTable(["NAME", "STATUS", "CRATE", "VERSION", "BACKEND", "SANDBOXED", "CREATED", "LAST USED"], rows);
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "--help":
      case "-h":
      case "help":
        out(HELP);
        return 0;
      case "--version":
      case "-V":
        out(VERSION);
        return 0;
      case "craft":
        return await craftCommand(rest);
      case "list": {
        const { values } = parseArgs({ args: rest, options: { json: { type: "boolean", default: false } } });
        const app = await startApp();
        const crafts = await app.list();
        const { quarantined } = await app.store.list();
        if (values.json) out(JSON.stringify(listView(crafts, quarantined), null, 2));
        else if (crafts.length === 0 && quarantined.length === 0) out("no crafted tools (craft one with: flakebot craft \"...\" --source PATH)");
        else {
          out(listTable(crafts, quarantined));
          for (const q of quarantined) out(`${q.name}  quarantined: ${q.reason} (see flakebot describe ${q.name})`);
        }
        return 0;
      }
      case "describe": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: "boolean", default: false } } });
        const app = await startApp();
        const craft = await app.require(one(positionals, "tool name"));
        const tail = await app.logTail(craft.name, 20);
        out(values.json ? JSON.stringify({ ...craftView(craft), log_tail: tail }, null, 2) : describeText(craft, tail));
        return 0;
      }
      case "run": {
        const sep = rest.indexOf("--");
        const head = sep === -1 ? rest : rest.slice(0, sep);
        const toolArgs = sep === -1 ? [] : rest.slice(sep + 1);
        const name = one(head, "tool name (then -- and its arguments)");
        const app = await startApp();
        const result = await app.invoke(name, { args: toolArgs, stdin: await readStdin() });
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        if (result.truncated) process.stderr.write("flakebot: output truncated at 1 MiB per stream\n");
        if (result.timed_out) process.stderr.write(`flakebot: timed out after ${result.duration_ms} ms\n`);
        return result.exit_code ?? 1;
      }
      case "dispose": {
        const app = await startApp();
        const r = await app.dispose(one(rest, "tool name"));
        out(`disposed ${r.disposed}; removed:\n${r.removed.map((p) => `  ${p}`).join("\n")}`);
        return 0;
      }
      case "doctor": {
        const { doctor, formatDoctor } = await import("./doctor.js");
        const report = await doctor(loadConfig());
        out(formatDoctor(report));
        return report.checks.some((c) => c.status === "missing") ? 1 : 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`flakebot: ${(err as Error).message}\n\n${HELP}\n`);
      return 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`flakebot: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
