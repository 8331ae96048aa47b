// The attack suite: a hostile crate (test/fixtures/crates/attacker) is built once inside the
// build sandbox, with a build script that attacks while it compiles, and its binary is then
// run through invokeBinary with the sandbox on, once per attack. Each test checks what a user
// would check on the host afterwards, and where it can, first shows that the same attack
// works without the sandbox (so the check is able to fail).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { invokeBinary, OUTPUT_CAP_BYTES, type InvokeOutput } from "../src/exec/invoke.js";
import { runProcess } from "../src/exec/process.js";
import { toolchainEnv } from "../src/exec/env.js";
import { DEFAULT_LIMITS, limitsFromEnv } from "../src/exec/limits.js";
import { checkSandbox, findBwrap, rootsAccess, sandboxArgv, sandboxBuildArgv, sandboxWritePolicy, toolUid } from "../src/exec/sandbox.js";
import { craftedEnv } from "../src/exec/env.js";
import { toolPaths } from "../src/state/paths.js";
import { fixturesDir, offlineCargoHome, tempDir } from "./helpers/offline.js";

const noBwrap = findBwrap() ? false : "bwrap is not installed (apt-get install -y bubblewrap): the sandbox is not tested";
const asRoot = process.getuid?.() === 0;

/** A TCP listener on the host's 127.0.0.1 that counts the connections it accepts. */
async function listener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Host processes whose command line contains `needle` (a marker or the binary's path). */
function processesWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Killed by `signal`: bwrap reports its program's death by a signal as exit code 128 + N. */
function endedBy(r: { signal?: string; exitCode: number | null }, ...signals: NodeJS.Signals[]): boolean {
  return signals.some((s) => r.signal === s || r.exitCode === 128 + os.constants.signals[s]);
}

const field = (out: InvokeOutput, key: string) => new RegExp(`^${key}: (.*)$`, "m").exec(out.stdout)?.[1];

describe("the sandbox against a hostile crafted tool", { skip: noBwrap }, () => {
  let dir: string;
  let binary: string;
  let scratch: string;
  let homeSecret: string;
  let port: { port: number; connections: () => number; close: () => Promise<void> };
  let buildOutput = "";
  const secretValue = `s3cr3t-${randomBytes(8).toString("hex")}`;

  const run = (args: string[], opts: { timeout_ms?: number; sandboxed?: boolean; stdin?: string } = {}) =>
    invokeBinary({ binary, scratch, sandboxed: opts.sandboxed ?? true }, { args, timeout_ms: opts.timeout_ms ?? 10_000, stdin: opts.stdin });

  before(async () => {
    dir = await tempDir("flakebot-security-");
    port = await listener();
    // A file a thief would want: in the server user's home directory.
    homeSecret = path.join(os.homedir(), `.flakebot-security-${randomBytes(4).toString("hex")}`);
    await fs.writeFile(homeSecret, secretValue, { mode: 0o600 });

    const workspace = path.join(dir, "attacker");
    await fs.cp(path.join(fixturesDir, "crates", "attacker"), workspace, { recursive: true });
    const cargoHome = await offlineCargoHome(dir);
    const plan = [
      `tcp=127.0.0.1:${port.port}`,
      `write=${path.join(dir, "written-by-build.rs")}`,
      `write=${path.join(fixturesDir, "written-by-build.rs")}`,
      `read=${homeSecret}`,
    ].join(";");
    const argv = sandboxBuildArgv(["cargo", "build", "--release", "--offline", "--locked"], { workspace, cargoHome });
    const built = await runProcess(argv, {
      cwd: workspace,
      env: toolchainEnv({ CARGO_HOME: cargoHome, ATTACKER_BUILD: plan, CARGO_TERM_COLOR: "never" }),
      timeoutMs: 300_000,
    });
    buildOutput = built.stderr;
    assert.equal(built.exitCode, 0, `the attacker crate must build in the build sandbox:\n${built.stderr}`);
    binary = path.join(workspace, "target", "release", "attacker");
    scratch = toolPaths(path.join(dir, "flakebot-home"), "attacker").scratch;
  });

  after(async () => {
    await port?.close();
    await fs.rm(homeSecret, { force: true });
    await fs.rm(dir, { recursive: true, force: true });
  });

  test("doctor's check runs the full sandbox once and says what it gives", async () => {
    const check = await checkSandbox();
    assert.equal(check.ok, true, check.detail);
    assert.match(check.detail, /no network, read-only filesystem/);
    assert.match(check.detail, asRoot ? /each tool as its own user/ : /in a user namespace/);
  });

  test("a build script gets no network, cannot write outside the workspace, cannot read the home directory", () => {
    assert.match(buildOutput, /attack tcp=127\.0\.0\.1:\d+: blocked/);
    // Flakebot's own files are visible but read-only, or absent when the checkout itself is
    // under /tmp, which the build sees as an empty private /tmp of its own.
    const underTmp = fixturesDir.startsWith("/tmp/");
    assert.match(buildOutput, underTmp ? /attack write=\S+\/fixtures\/written-by-build\.rs: denied \(No such file/ : /attack write=\S+\/fixtures\/written-by-build\.rs: denied \(Read-only/);
    assert.equal(existsSync(path.join(fixturesDir, "written-by-build.rs")), false);
    assert.equal(existsSync(path.join(dir, "written-by-build.rs")), false, "a write to the host's /tmp got through");
    assert.match(buildOutput, /attack read=\S+: denied/);
    assert.doesNotMatch(buildOutput, new RegExp(secretValue));
    assert.equal(port.connections(), 0, "the host's listener saw a connection from the build");
  });

  test("a TCP connection to a listener on the host's 127.0.0.1 fails", async () => {
    const target = `127.0.0.1:${port.port}`;
    const open = await run(["tcp", target], { sandboxed: false });
    assert.equal(field(open, "connected"), target, "without the sandbox the attack must work, or this test proves nothing");
    assert.equal(port.connections(), 1);

    const boxed = await run(["tcp", target]);
    assert.equal(boxed.exit_code, 1, boxed.stdout + boxed.stderr);
    assert.match(field(boxed, "blocked") ?? "", /refused|unreachable/i);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(port.connections(), 1, "the listener saw a connection from the sandbox");

    // Services need the host's loopback (a namespace's own lo is not the host's): the
    // "host" variant shares the network and nothing else.
    const service = await runProcess(sandboxArgv([binary, "tcp", target], { scratch, network: "host" }), { cwd: scratch, env: craftedEnv(scratch), timeoutMs: 10_000 });
    assert.equal(service.exitCode, 0, service.stdout + service.stderr);
    assert.ok(await until(() => port.connections() === 2, 2_000));
    const stillConfined = await runProcess(sandboxArgv([binary, "write", path.join(dir, "outside.txt")], { scratch, network: "host" }), { cwd: scratch, env: craftedEnv(scratch), timeoutMs: 10_000 });
    assert.match(stillConfined.stdout, /denied/);
  });

  test("writing outside the scratch directory fails; inside it works", async () => {
    const outside = path.join(dir, "outside.txt");
    for (const target of [outside, "/etc/flakebot-attack", path.join(os.homedir(), "flakebot-attack")]) {
      const r = await run(["write", target]);
      assert.equal(r.exit_code, 1, `${target}: ${r.stdout}${r.stderr}`);
      assert.match(field(r, "denied") ?? "", /read-only|permission denied|no such file/i);
      assert.equal(existsSync(target), false, `${target} exists on the host`);
    }
    const mine = path.join(scratch, "result.txt");
    const ok = await run(["write", mine]);
    assert.equal(ok.exit_code, 0, ok.stdout + ok.stderr);
    assert.equal(readFileSync(mine, "utf8"), "attacker was here\n");
    if (asRoot) assert.equal(statSync(mine).uid, toolUid(scratch), "a sandboxed program runs as its tool's own user");
  });

  test("the server's environment and secrets are not visible", async () => {
    const saved = { GROQ_API_KEY: process.env.GROQ_API_KEY, GITHUB_TOKEN: process.env.GITHUB_TOKEN, OPENAI_API_KEY: process.env.OPENAI_API_KEY };
    process.env.GROQ_API_KEY = `gsk_${secretValue}`;
    process.env.GITHUB_TOKEN = `ghp_${secretValue}`;
    process.env.OPENAI_API_KEY = `sk-${secretValue}`;
    try {
      const r = await run(["env"]);
      assert.equal(r.exit_code, 0);
      assert.match(r.stdout, new RegExp(`^HOME=${scratch}$`, "m"), "the program's HOME is its scratch directory");
      for (const name of ["GROQ_API_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "FLAKEBOT_HOME", "CARGO_HOME"]) {
        assert.doesNotMatch(r.stdout, new RegExp(`^${name}=`, "m"), `${name} reached the program`);
      }
      assert.doesNotMatch(r.stdout, new RegExp(secretValue));
      const names = r.stdout.trim().split("\n").map((l) => l.split("=")[0]);
      assert.deepEqual(names.sort(), ["CLICOLOR", "HOME", "LANG", "NO_COLOR", "PATH", "PWD", "TERM", "TMPDIR"]);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test("the home directory and other tools' files cannot be read", async () => {
    const control = await run(["read", "/etc/hostname"]);
    assert.equal(control.exit_code, 0, "reading a public file works (the attack itself is sound)");
    const open = await run(["read", homeSecret], { sandboxed: false });
    assert.equal(field(open, "read"), secretValue, "without the sandbox the secret is readable");

    const victim = toolPaths(path.join(dir, "flakebot-home"), "victim").scratch;
    await fs.mkdir(victim, { recursive: true });
    await fs.writeFile(path.join(victim, "data"), secretValue);
    const targets = [homeSecret, path.join(victim, "data"), ...(asRoot ? ["/etc/shadow"] : [])];
    for (const target of targets) {
      const r = await run(["read", target]);
      assert.equal(r.exit_code, 1, `${target}: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, new RegExp(secretValue));
      assert.match(field(r, "denied") ?? "", /no such file|permission denied/i);
    }
  });

  test("/tmp is private: what the program writes there never reaches the host", async () => {
    const name = `flakebot-tmp-${randomBytes(6).toString("hex")}`;
    const r = await run(["tmp", name]);
    assert.equal(r.exit_code, 0, r.stdout + r.stderr);
    assert.equal(field(r, "inside_sees"), "true", "the program has a working /tmp");
    assert.equal(existsSync(path.join("/tmp", name)), false, "the host sees the program's /tmp file");
  });

  test("a fork bomb is contained and the machine stays responsive", async () => {
    const timeout = 6_000;
    const started = Date.now();
    const bomb = run(["forkbomb"], { timeout_ms: timeout });
    await until(() => processesWith(binary).length > 50, 4_000);
    const during = processesWith(binary).length;
    const probe = await runProcess(["true"], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 5_000 });
    const r = await bomb;
    const elapsed = Date.now() - started;

    assert.equal(probe.exitCode, 0, "the host could still start a process during the bomb");
    assert.ok(probe.durationMs < 2_000, `starting a process on the host took ${probe.durationMs} ms during the bomb`);
    assert.equal(r.timed_out, true);
    assert.ok(elapsed < timeout + 3_000, `the call returned after ${elapsed} ms (timeout ${timeout})`);
    const spawned = Number(field(r, "spawned"));
    assert.ok(spawned > 10 && spawned < DEFAULT_LIMITS.processes, `the bomb started ${spawned} processes (limit ${DEFAULT_LIMITS.processes})`);
    assert.match(field(r, "refused") ?? "", /temporarily unavailable/i, "the process limit stopped the bomb");
    assert.ok(during <= DEFAULT_LIMITS.processes, `${during} bomb processes were alive at once`);
    assert.ok(await until(() => processesWith(binary).length === 0, 3_000), `${processesWith(binary).length} bomb processes outlived the call`);
  });

  test("configured limits hold: memory, file size, CPU time, processes", async () => {
    const limits = limitsFromEnv({
      FLAKEBOT_LIMIT_MEMORY_MB: "256",
      FLAKEBOT_LIMIT_FILE_MB: "10",
      FLAKEBOT_LIMIT_CPU_SECONDS: "1",
      FLAKEBOT_LIMIT_PROCESSES: "32",
    });
    assert.deepEqual(limits, { memoryBytes: 256 * 1048576, fileBytes: 10 * 1048576, cpuSeconds: 1, processes: 32 });
    assert.throws(() => limitsFromEnv({ FLAKEBOT_LIMIT_MEMORY_MB: "lots" }), /FLAKEBOT_LIMIT_MEMORY_MB="lots" is not a positive whole number/);
    const runLimited = (args: string[]) =>
      runProcess(sandboxArgv([binary, ...args], { scratch, limits }), { cwd: scratch, env: craftedEnv(scratch), timeoutMs: 20_000 });

    const memory = await runLimited(["alloc", "1024"]);
    assert.equal(memory.exitCode, 1, memory.stdout + memory.stderr);
    assert.ok(Number(/refused_after_mb: (\d+)/.exec(memory.stdout)?.[1]) < 256, memory.stdout);

    const file = await runLimited(["bigfile", "50"]);
    assert.ok(endedBy(file, "SIGXFSZ"), `exit ${file.exitCode} ${file.signal ?? ""}: ${file.stdout}`);
    assert.equal(statSync(path.join(scratch, "big.bin")).size, 10 * 1048576);
    await fs.rm(path.join(scratch, "big.bin"));

    const cpu = await runLimited(["spin"]);
    assert.equal(cpu.timedOut, false, "the CPU limit, not the 20 s timeout, stopped it");
    assert.ok(endedBy(cpu, "SIGKILL", "SIGXCPU"), `exit ${cpu.exitCode} ${cpu.signal ?? ""}`);
    assert.ok(cpu.durationMs < 10_000, `took ${cpu.durationMs} ms`);

    if (asRoot) {
      const bomb = await runProcess(sandboxArgv([binary, "forkbomb"], { scratch, limits }), { cwd: scratch, env: craftedEnv(scratch), timeoutMs: 3_000 });
      assert.equal(Number(/spawned: (\d+)/.exec(bomb.stdout)?.[1]), 31, bomb.stdout);
    }
  });

  test("a flood of output is cut off and truncated, with bounded memory", async () => {
    const rssBefore = process.memoryUsage().rss;
    const r = await run(["flood"], { timeout_ms: 60_000 });
    const grown = process.memoryUsage().rss - rssBefore;
    assert.equal(r.truncated, true);
    assert.equal(r.timed_out, false, "the flood was stopped by its size, not by the timeout");
    assert.ok(Buffer.byteLength(r.stdout) <= OUTPUT_CAP_BYTES, `kept ${Buffer.byteLength(r.stdout)} bytes`);
    assert.ok(r.duration_ms < 30_000, `took ${r.duration_ms} ms`);
    assert.ok(grown < 200 * 1024 * 1024, `the server grew by ${Math.round(grown / 1048576)} MiB`);
  });

  test("a program and its grandchild in a process group of its own are gone after the timeout", async () => {
    const marker = `flakebot-sleep-${randomBytes(6).toString("hex")}`;
    const call = run(["sleep", marker], { timeout_ms: 2_000 });
    assert.ok(await until(() => processesWith(marker).length >= 2, 1_800), "the sleeper and its grandchild were running");
    const r = await call;
    assert.equal(r.timed_out, true);
    assert.ok(await until(() => processesWith(marker).length === 0, 2_000), `still running: pids ${processesWith(marker).join(", ")}`);
  });

  test("arguments reach the program literally: shell syntax, option-like words, long and odd strings", async () => {
    const pwned = path.join(dir, "pwned");
    const args = [
      `$(touch ${pwned})`,
      `\`touch ${pwned}\``,
      `; touch ${pwned} #`,
      "| cat /etc/passwd",
      "*",
      "~",
      "a b\tc\nd",
      "'\"\\",
      "--bind",
      "/",
      "/",
      "--",
      "-rf",
      "ünïcödé ✓ 🦀",
      "x".repeat(100_000),
      "",
    ];
    const r = await run(["args", ...args]);
    assert.equal(r.exit_code, 0, r.stderr);
    const [count, ...lines] = r.stdout.split("\n").slice(0, -1);
    assert.equal(count, `count: ${args.length}`);
    const received = lines.map((hex) => Buffer.from(hex, "hex").toString("utf8"));
    for (const [i, arg] of args.entries()) assert.ok(received[i] === arg, `argument ${i} arrived changed: ${received[i]?.slice(0, 80)}`);
    assert.equal(existsSync(pwned), false, "a shell interpreted an argument");

    // JSON strings cannot carry bytes that are not UTF-8; a lone surrogate arrives as U+FFFD.
    const odd = await run(["args", "\uD800x"]);
    assert.equal(odd.stdout.trim().split("\n")[1], Buffer.from("\uFFFDx").toString("hex"));
  });

  test("the client's roots are readable, and writable only under FLAKEBOT_SANDBOX_WRITE=roots", async () => {
    // A project under the (hidden) home directory, shared by the client as an MCP root.
    const project = path.join(os.homedir(), `.flakebot-root-${randomBytes(4).toString("hex")}`);
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, "input.txt"), secretValue);
    const runWith = (access: { readOnly: string[]; writable: string[] }, args: string[]) =>
      runProcess(sandboxArgv([binary, ...args], { scratch, ...access }), { cwd: scratch, env: craftedEnv(scratch), timeoutMs: 10_000 });
    try {
      const readOnly = rootsAccess([`file://${project}`], sandboxWritePolicy({}));
      assert.deepEqual(readOnly, { readOnly: [project], writable: [] });
      const read = await runWith(readOnly, ["read", path.join(project, "input.txt")]);
      assert.equal(read.stdout, `read: ${secretValue}\n`);
      const denied = await runWith(readOnly, ["write", path.join(project, "output.txt")]);
      assert.match(denied.stdout, /denied: Read-only/);
      assert.equal(existsSync(path.join(project, "output.txt")), false);

      const writable = rootsAccess([`file://${project}`], sandboxWritePolicy({ FLAKEBOT_SANDBOX_WRITE: "roots" }));
      assert.deepEqual(writable, { readOnly: [], writable: [project] });
      const wrote = await runWith(writable, ["write", path.join(project, "output.txt")]);
      assert.equal(wrote.exitCode, 0, wrote.stdout + wrote.stderr);
      assert.equal(statSync(path.join(project, "output.txt")).uid, process.getuid?.(), "the file belongs to the user, like the rest of the project");
      const elsewhere = await runWith(writable, ["write", path.join(os.homedir(), "flakebot-attack")]);
      assert.match(elsewhere.stdout, /denied/);

      assert.deepEqual(rootsAccess(["file:///", `file://${os.homedir()}`], "roots").writable, [], "/ and the home directory are never writable whole");
      assert.throws(() => sandboxWritePolicy({ FLAKEBOT_SANDBOX_WRITE: "all" }), /FLAKEBOT_SANDBOX_WRITE/);
    } finally {
      await fs.rm(project, { recursive: true, force: true });
    }
  });

  test("a NUL byte in an argument is refused before anything runs", async () => {
    const marker = `flakebot-nul-${randomBytes(6).toString("hex")}`;
    await assert.rejects(run(["write", path.join(scratch, marker) + "\0.txt"]), /null bytes/i);
    assert.equal(existsSync(path.join(scratch, marker)), false);
  });

  test("output that is not UTF-8 comes back replaced, not as a failure", async () => {
    const r = await run(["badutf8"]);
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout, "ok \uFFFD\uFFFD\uFFFD( end\n");
  });
});
