// Supervising one crafted service: start it on a loopback port, wait for its health check,
// restart it with backoff when it crashes (a bounded number of times in a row), and stop it
// with SIGTERM, then SIGKILL after a grace period. Its output goes to the tool's log file.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { runProcess, type RunResult } from "../exec/process.js";
import { craftedEnv } from "../exec/env.js";
import { sandboxArgv } from "../exec/sandbox.js";
import { limitsFromEnv } from "../exec/limits.js";
import { ToolLog } from "../state/tool-log.js";
import type { HelpParam, ServiceInfo } from "../model/craft.js";
import { portBinding } from "./port-binding.js";
import { canConnect, freePort, LOOPBACK } from "./port.js";
import { sendServiceRequest } from "./http.js";
import { leavesStartedIn, signalAll } from "../exec/procs.js";

export interface SupervisorOptions {
  binary: string;
  /** The service's cwd, HOME and data directory (writable in the sandbox). */
  scratch: string;
  sandboxed: boolean;
  /** Its parsed --help: decides how the port is passed. */
  params?: HelpParam[];
  logFile: string;
  /** An HTTP path whose answer (any status below 500) means healthy; a TCP connect otherwise. */
  healthPath?: string;
  readyTimeoutMs?: number;
  /** Failed starts in a row before the service is left "failed". */
  maxRestarts?: number;
  stopGraceMs?: number;
  onChange?: (info: ServiceInfo) => void;
  /**
   * Why the binary may not run now (it no longer matches its manifest), or undefined;
   * asked before the first start and before every restart.
   */
  verify?: () => Promise<string | undefined>;
}

/** The service could not be brought up: the message says why, with its last log lines. */
export class ServiceError extends Error {}

export const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESTARTS = 5;
const DEFAULT_STOP_GRACE_MS = 5_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** Running healthy this long forgives earlier crashes (the backoff starts over). */
const STABLE_AFTER_MS = 60_000;
/** A service lives long: the CPU-time backstop of one-shot programs would end it. */
const SERVICE_CPU_SECONDS = 10 * 365 * 86_400;

interface Run {
  controller: AbortController;
  done: Promise<RunResult>;
  result?: RunResult;
  startedAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Supervisor {
  private state: ServiceInfo["state"] = "starting";
  private restarts = 0;
  private failuresInARow = 0;
  private port = 0;
  private current?: Run;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  /** Why verify refused the binary: the service is failed for good. */
  private refused?: string;
  private readonly log: ToolLog;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = new ToolLog(opts.logFile);
  }

  info(): ServiceInfo {
    return { url: `http://${LOOPBACK}:${this.port}`, state: this.state, restarts: this.restarts, port: this.port };
  }

  get listenPort(): number {
    return this.port;
  }

  /** Starts the service and resolves once it is healthy; on failure it is stopped and this throws a ServiceError. */
  async start(signal?: AbortSignal): Promise<ServiceInfo> {
    await mkdir(this.opts.scratch, { recursive: true });
    this.port = await freePort();
    this.opts.onChange?.(this.info());
    const onAbort = () => void this.stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const why = await this.launch();
      if (why && this.refused) {
        await this.stop();
        throw new ServiceError(`the service was not started: ${this.refused}`);
      }
      if (why) {
        await this.stop();
        this.setState("failed");
        const tail = this.log.lines(15).join("\n");
        throw new ServiceError(`the service did not become healthy: ${why}. Its last log lines:\n${tail || "(no output)"}\nCheck that the program is a server that listens on the port it is given (a --port/--bind/--listen option, or the PORT environment variable)`);
      }
      signal?.throwIfAborted();
      return this.info();
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Spawns the program and waits for its health check. Returns why it failed, or undefined. */
  private async launch(): Promise<string | undefined> {
    const refused = await Promise.resolve(this.opts.verify?.()).catch((err: Error) => `its binary could not be verified: ${err.message}`);
    if (refused) {
      this.refused = refused;
      this.log.write(`== service: not ${this.restarts ? "restarted" : "started"}: ${refused}`);
      this.setState("failed");
      return refused;
    }
    let run: Run;
    try {
      run = this.spawn();
    } catch (err) {
      // A bad FLAKEBOT_LIMIT_* value, bwrap gone since the craft: said, not thrown.
      return `it could not be started: ${(err as Error).message}`;
    }
    const why = await this.waitHealthy(run);
    if (why) {
      await this.kill(run);
      return why;
    }
    if (this.stopping) return "it was stopped";
    this.setState("running");
    return undefined;
  }

  private spawn(): Run {
    const binding = portBinding(this.opts.params, this.port);
    const argv = [this.opts.binary, ...binding.args];
    const full = this.opts.sandboxed
      ? sandboxArgv(argv, { scratch: this.opts.scratch, network: "host", limits: { ...limitsFromEnv(), cpuSeconds: SERVICE_CPU_SECONDS } })
      : argv;
    this.log.write(`== service: starting ${argv.join(" ")} on ${LOOPBACK}:${this.port} (${binding.how})${this.opts.sandboxed ? ", sandboxed" : ""}`);
    const controller = new AbortController();
    const run: Run = { controller, startedAt: Date.now(), done: undefined as unknown as Promise<RunResult> };
    run.done = runProcess(full, {
      kind: "crafted",
      cwd: this.opts.scratch,
      env: craftedEnv(this.opts.scratch, binding.env),
      signal: controller.signal,
      maxOutputBytes: 16 * 1024,
      onLine: (line, stream) => this.log.write(`[${stream}] ${line}`),
    }).then((r) => {
      run.result = r;
      return r;
    });
    void run.done.then((r) => this.exited(run, r));
    this.current = run;
    return run;
  }

  private async waitHealthy(run: Run): Promise<string | undefined> {
    const timeout = this.opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (this.stopping) return "it was stopped";
      if (run.result) return `it exited (${exitText(run.result)}) before answering on ${LOOPBACK}:${this.port}`;
      if (await this.healthy()) return run.result ? `it exited (${exitText(run.result)})` : undefined;
      await sleep(100);
    }
    return `nothing answered on ${LOOPBACK}:${this.port}${this.opts.healthPath ? ` at ${this.opts.healthPath}` : ""} within ${timeout} ms`;
  }

  private async healthy(): Promise<boolean> {
    if (!this.opts.healthPath) return canConnect(this.port);
    try {
      const r = await sendServiceRequest(this.port, { path: this.opts.healthPath, timeout_ms: 2000 });
      return r.status < 500;
    } catch {
      return false;
    }
  }

  private exited(run: Run, r: RunResult): void {
    if (this.stopping || run !== this.current || this.state !== "running") return;
    this.log.write(`== service: exited (${exitText(r)}) after ${Math.round((Date.now() - run.startedAt) / 1000)} s`);
    if (this.disposedElsewhere()) return;
    if (Date.now() - run.startedAt > STABLE_AFTER_MS) this.failuresInARow = 0;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    this.failuresInARow += 1;
    const max = this.opts.maxRestarts ?? DEFAULT_MAX_RESTARTS;
    if (this.failuresInARow > max) {
      this.log.write(`== service: gave up after ${max} failed restarts in a row; dispose it, or craft it again`);
      this.setState("failed");
      return;
    }
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failuresInARow - 1), BACKOFF_MAX_MS);
    this.restarts += 1;
    this.setState("restarting");
    this.log.write(`== service: restarting in ${delay} ms (restart ${this.restarts})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping || this.disposedElsewhere()) return;
      void this.launch().then((why) => {
        if (!why || this.stopping || this.refused) return;
        this.log.write(`== service: the restart failed: ${why}`);
        this.scheduleRestart();
      });
    }, delay);
  }

  /** Another Flakebot process disposed of the tool (its directory is gone): nothing to restart. */
  private disposedElsewhere(): boolean {
    if (existsSync(this.opts.scratch)) return false;
    this.log.write("== service: its directory was removed (disposed by another Flakebot process); not restarting");
    this.stopping = true;
    this.setState("stopped");
    return true;
  }

  /** SIGTERM to the program, SIGKILL to its whole process group after the grace period. */
  private async kill(run: Run): Promise<void> {
    if (run.result) return;
    signalAll(await leavesStartedIn(this.opts.scratch), "SIGTERM");
    const grace = this.opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    const timer = setTimeout(() => run.controller.abort(), grace);
    await run.done;
    clearTimeout(timer);
  }

  /** Stops the service for good (dispose, shutdown). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) {
      if (this.current) await this.current.done;
      return;
    }
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const run = this.current;
    if (run) await this.kill(run);
    if (this.state !== "failed") this.setState("stopped");
    this.log.write(`== service: stopped${run?.result ? ` (${exitText(run.result)})` : ""}`);
    await this.log.close();
  }

  private setState(state: ServiceInfo["state"]): void {
    if (this.state === state && state !== "restarting") return;
    this.state = state;
    this.opts.onChange?.(this.info());
  }
}

function exitText(r: RunResult): string {
  return r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
}
