// The crafted services this server runs, by tool name: started when a service craft is
// ready and at server start-up, stopped on dispose and shutdown. Requests reach a service
// only through here, at its own loopback port.
import type { Craft, ServiceInfo } from "../model/craft.js";
import { toolPaths } from "../state/paths.js";
import { killProcessesUnder } from "../exec/procs.js";
import { log } from "../log.js";
import { Supervisor, type SupervisorOptions } from "./supervisor.js";
import { claim, otherOwner, recordPort, release, runByOtherSync } from "./owner.js";
import { RequestRefused, sendServiceRequest, type ServiceRequest, type ServiceResponse } from "./http.js";

/** A call to a service that is not up: the message says its state and what to do. */
export class ServiceUnavailable extends Error {}

export interface ServiceManagerOptions {
  /** Told of every state change (to persist it in the manifest). */
  onChange?: (name: string, info: ServiceInfo) => void | Promise<void>;
  /** Why a service's binary may not run (checked before every start and restart), or undefined. */
  verify?: (craft: Craft) => Promise<string | undefined>;
  /** Overrides for tests (ready timeout, grace period...). */
  supervisor?: Partial<SupervisorOptions>;
}

export class ServiceManager {
  private readonly services = new Map<string, Supervisor>();
  /** Starts in progress: a request waits for them rather than failing. */
  private readonly starting = new Map<string, Promise<ServiceInfo>>();
  /** State changes being persisted, in order, per service. */
  private readonly saving = new Map<string, Promise<void>>();

  constructor(
    private readonly home: string,
    private readonly options: ServiceManagerOptions = {},
  ) {}

  /** The live state of a service this server runs, or undefined. */
  info(name: string): ServiceInfo | undefined {
    return this.services.get(name)?.info();
  }

  /**
   * `craft` with its live service state when this process runs it; as its owner last saved
   * it when another live process does; "stopped" when no process runs it any more.
   */
  overlay(craft: Craft): Craft {
    const info = this.info(craft.name);
    if (info) return { ...craft, service: info };
    const s = craft.service;
    if (!s || runByOtherSync(toolPaths(this.home, craft.name).dir)) return craft;
    if (this.starting.has(craft.name)) return { ...craft, service: { ...s, state: "starting" } };
    return s.state === "failed" ? craft : { ...craft, service: { ...s, state: "stopped" } };
  }

  /**
   * Starts a ready (or just verified) service craft; throws a ServiceError when it never
   * becomes healthy. When another live Flakebot process runs it already, that one is used.
   */
  start(craft: Craft, signal?: AbortSignal): Promise<ServiceInfo> {
    const started = this.startHere(craft, signal).finally(() => {
      if (this.starting.get(craft.name) === started) this.starting.delete(craft.name);
    });
    this.starting.set(craft.name, started);
    return started;
  }

  private async startHere(craft: Craft, signal?: AbortSignal): Promise<ServiceInfo> {
    if (!craft.build) throw new Error(`service "${craft.name}" has no build`);
    const paths = toolPaths(this.home, craft.name);
    await this.services.get(craft.name)?.stop();
    const other = await claim(paths.dir);
    if (other) {
      log.info(`service "${craft.name}" is run by Flakebot process ${other.pid} on port ${other.port}: using that one`);
      return { url: `http://127.0.0.1:${other.port}`, state: "running", restarts: craft.service?.restarts ?? 0, port: other.port };
    }
    // A server that died without stopping its service (SIGKILL, a crash) may have left it
    // running outside a sandbox: end it, or two copies would share one data directory.
    const leftovers = await killProcessesUnder(paths.scratch);
    if (leftovers.length > 0) log.warn(`service "${craft.name}": ended ${leftovers.length} process(es) left running by a Flakebot process that died`);
    const supervisor = new Supervisor({
      binary: craft.build.binary,
      scratch: paths.scratch,
      sandboxed: craft.sandboxed ?? false,
      params: craft.params,
      logFile: paths.log,
      ...this.options.supervisor,
      verify: this.options.verify && (() => this.options.verify!(craft)),
      onChange: (info) => this.changed(craft.name, info),
    });
    this.services.set(craft.name, supervisor);
    try {
      const info = await supervisor.start(signal);
      await recordPort(paths.dir, supervisor.listenPort);
      return info;
    } catch (err) {
      if (this.services.get(craft.name) === supervisor) this.services.delete(craft.name);
      await release(paths.dir).catch(() => {});
      throw err;
    }
  }

  private changed(name: string, info: ServiceInfo): void {
    const previous = this.saving.get(name) ?? Promise.resolve();
    this.saving.set(name, previous.then(() => this.options.onChange?.(name, info)).catch(() => {}));
  }

  /**
   * Stops a service and returns what it stopped. A service that another process (a server)
   * runs from this tool's scratch directory is ended by its working directory.
   */
  async stop(name: string): Promise<string[]> {
    const supervisor = this.services.get(name);
    const dir = toolPaths(this.home, name).dir;
    if (supervisor) {
      this.services.delete(name);
      const port = supervisor.listenPort;
      await supervisor.stop();
      await this.saving.get(name);
      this.saving.delete(name);
      await release(dir).catch(() => {});
      return [`service on 127.0.0.1:${port} (stopped)`];
    }
    const killed = await killProcessesUnder(toolPaths(this.home, name).scratch);
    return killed.length > 0 ? [`${killed.length} service process(es) run by another Flakebot process (killed)`] : [];
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.services.keys()].map((name) => this.stop(name)));
  }

  /** Starts every ready service craft in the background (server start-up). */
  startAll(crafts: Craft[]): Promise<void> {
    const services = crafts.filter((c) => c.status === "ready" && c.request.kind === "service" && c.build);
    return Promise.allSettled(
      services.map((c) =>
        this.start(c).then(
          (info) => log.info(`service "${c.name}" running at ${info.url}`),
          (err) => log.warn(`service "${c.name}" did not start: ${(err as Error).message.split("\n")[0]}`),
        ),
      ),
    ).then(() => undefined);
  }

  async request(name: string, input: ServiceRequest, signal?: AbortSignal): Promise<ServiceResponse> {
    await this.starting.get(name)?.catch(() => {});
    const supervisor = this.services.get(name);
    const other = supervisor ? undefined : await otherOwner(toolPaths(this.home, name).dir);
    const info = other ? { url: `http://127.0.0.1:${other.port}`, state: "running" as const, restarts: 0, port: other.port } : supervisor?.info();
    if (!info || info.state !== "running") {
      const state = info?.state ?? "stopped";
      throw new ServiceUnavailable(
        state === "restarting" || state === "starting"
          ? `service "${name}" is ${state} (restarts so far: ${info?.restarts ?? 0}): try again in a few seconds, or see describe_tool {"name": "${name}"}`
          : `service "${name}" is ${state}: see its log with describe_tool {"name": "${name}"}; dispose it and craft it again`,
      );
    }
    try {
      return await sendServiceRequest(info.port!, input, signal);
    } catch (err) {
      if (err instanceof RequestRefused) throw err;
      throw new ServiceUnavailable(`the request to service "${name}" at ${info.url} failed: ${(err as Error).message}`);
    }
  }
}
