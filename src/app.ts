// Flakebot's core, shared by the MCP server and the command line: it starts crafts as jobs
// it owns, answers for their state, runs crafted tools and disposes of them. It knows
// nothing of MCP: the server listens to its events ("ready", "removed", "update").
import { EventEmitter } from "node:events";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import { diffSince } from "./sources/git.js";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { Store } from "./state/store.js";
import { isToolName } from "./state/paths.js";
import { manifestProblem } from "./craft/integrity.js";
import { BuildQueue } from "./state/queue.js";
import { ToolLog, readLogTail } from "./state/tool-log.js";
import { type StageContext, type StageFn } from "./craft/context.js";
import { CraftError, UserError } from "./model/errors.js";
import { runCraft } from "./craft/run.js";
import { craftPipeline } from "./craft/pipeline.js";
import { invalidName, nameFromCrate, nameFromInstructions, toToolName } from "./model/names.js";
import type { Craft, CraftRequest } from "./model/craft.js";
import { readyMessage } from "./model/view.js";
import { requestProblem } from "./model/request.js";
import { ArgumentsTooLong, invokeBinary, type InvokeInput, type InvokeOutput } from "./exec/invoke.js";
import { findBwrap, rootsAccess, sandboxEnabled } from "./exec/sandbox.js";
import { hiddenNote, hiddenPaths } from "./exec/visible.js";
import { killAllChildren } from "./exec/process.js";
import { alive, killProcessesUnder, selfRef } from "./exec/procs.js";
import { readRegularFile, UnsafePathError } from "./exec/safe-fs.js";
import type { LlmProvider } from "./llm/provider.js";
import { selectBackend } from "./backends/select.js";
import { aliasRemoved, disposers } from "./dispose.js";
// -- services (issue 9)
import { ServiceManager, ServiceUnavailable } from "./service/manager.js";
import { startServiceStage } from "./craft/stages/start-service.js";
import { RequestRefused, type ServiceRequest, type ServiceResponse } from "./service/http.js";
import type { ServiceInfo } from "./model/craft.js";


interface Job {
  craft: Craft;
  controller: AbortController;
  log: ToolLog;
  done: Promise<Craft>;
  events: EventEmitter;
}

export interface AppEvents {
  ready: [Craft];
  removed: [string];
  update: [Craft, string];
}

export interface AppOptions {
  /** The LLM for a craft, when one is configured (the server adds MCP sampling). */
  llm?: () => LlmProvider | undefined;
}

const LAST_USED_EVERY_MS = 60_000;

export class Flakebot extends EventEmitter<AppEvents> {
  readonly store: Store;
  /** The crafted services this process runs. */
  readonly services: ServiceManager;
  private readonly jobs = new Map<string, Job>();
  private readonly queue: BuildQueue;
  /** Why the state directory cannot be written, when it cannot (read-only, full). */
  private cannotWrite?: string;
  /** The client's MCP roots as crafted programs see them (FLAKEBOT_SANDBOX_WRITE). */
  private roots: { readOnly: string[]; writable: string[] } = { readOnly: [], writable: [] };
  private closed = false;

  constructor(
    readonly config: Config,
    private readonly options: AppOptions = {},
  ) {
    super();
    this.store = new Store(config.home, (pid) => alive({ pid }));
    this.queue = new BuildQueue(config.maxConcurrentBuilds);
    this.services = new ServiceManager(config.home, {
      onChange: (name, info) => this.saveServiceState(name, info),
      verify: (craft) => this.verifyService(craft),
    });
  }

  /** Prepares the state directory and repairs what a crash left. Returns the ready tools. */
  async start(): Promise<Craft[]> {
    await this.probeHome();
    const { crafts, corrupt } = await this.store.list();
    for (const c of corrupt) log.warn(`tool "${c.name}" skipped: ${c.error}`);
    const ready: Craft[] = [];
    for (const craft of crafts) {
      if (craft.status === "building" && !alive(craft.owner_pid ? { pid: craft.owner_pid, start: craft.owner_start } : undefined) && !this.cannotWrite) {
        await this.markInterrupted(craft);
      } else if (craft.status === "ready") {
        const problem = await manifestProblem(this.config.home, craft);
        if (problem) await this.quarantine(craft.name, problem).catch((err) => log.error(`could not quarantine "${craft.name}": ${(err as Error).message}`));
        else ready.push({ ...craft, sandboxed: this.sandboxFor(craft) });
      }
    }
    return ready;
  }

  /** The configured sandbox policy is a floor: a manifest's own "sandboxed" only adds to it. */
  private sandboxFor(craft: Craft): boolean {
    const floor = this.config.sandbox === "bwrap" || (this.config.sandbox === "auto" && findBwrap() !== null);
    return floor || craft.sandboxed === true;
  }

  /** Moves a manifest that does not verify aside; the tool is then gone from every list. */
  private async quarantine(name: string, problem: string): Promise<string> {
    await this.store.quarantine(name, problem);
    const message = quarantineMessage(name, problem);
    log.warn(message);
    this.emit("removed", name);
    return message;
  }

  /**
   * Before a service (re)starts: a binary that no longer verifies quarantines the tool. A
   * service crafted by this server starts before its record says ready; its binary is
   * registered (hashed) by then, and held to that hash like a ready tool's.
   */
  private async verifyService(craft: Craft): Promise<string | undefined> {
    const problem = await manifestProblem(this.config.home, { ...craft, status: "ready" });
    if (!problem) return undefined;
    // Still crafting: the craft fails with the reason. Ready: the tool is quarantined.
    return this.jobs.has(craft.name) ? `its manifest does not verify (${problem})` : await this.quarantine(craft.name, problem);
  }

  /** Tools already built keep working from a read-only or full home; new crafts are refused. */
  private async probeHome(): Promise<void> {
    try {
      await this.store.init();
      if (this.cannotWrite) log.info(`FLAKEBOT_HOME=${this.config.home} can be written again`);
      this.cannotWrite = undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOSPC" ? "No space left on device" : (code ?? (err as Error).message);
      this.cannotWrite = `FLAKEBOT_HOME=${this.config.home} cannot be written (${why}${code === "ENOSPC" ? ", ENOSPC" : ""}): free some space or make it writable, or point FLAKEBOT_HOME elsewhere`;
      log.error(this.cannotWrite);
    }
  }

  private async markInterrupted(craft: Craft): Promise<void> {
    const paths = this.store.paths(craft.name);
    const killed = await killProcessesUnder(paths.dir);
    if (killed.length) log.warn(`ended ${killed.length} process(es) left running by the interrupted craft "${craft.name}"`);
    await removeTree(paths.workspace);
    const failed: Craft = {
      ...craft,
      status: "failed",
      owner_pid: undefined,
      owner_start: undefined,
      message: `the craft was interrupted at stage "${craft.stage ?? "start"}" (the server stopped or crashed); its partial workspace was removed. Call craft_tool again to retry`,
      error: "interrupted",
      updated_at: new Date().toISOString(),
    };
    await this.store.save(failed);
    log.warn(`craft "${craft.name}" was interrupted by a crash; marked failed`);
  }

  async list(): Promise<Craft[]> {
    const { crafts } = await this.store.list();
    return crafts.map((c) => this.view(this.jobs.get(c.name)?.craft ?? c));
  }

  /** A record as callers see it: its service's live state, the sandbox it really runs under. */
  private view(craft: Craft): Craft {
    const live = this.services.overlay(craft);
    return live.status === "ready" ? { ...live, sandboxed: this.sandboxFor(live) } : live;
  }

  /** The live record of a tool or craft (by its name or an alias), or undefined. Throws on a corrupt manifest. */
  async get(name: string): Promise<Craft | undefined> {
    if (invalidName(name)) return undefined;
    const real = await this.resolve(name);
    const craft = this.jobs.get(real)?.craft ?? (await this.store.load(real));
    return craft && this.view(asCalled(name, craft));
  }

  /** The tool a name stands for: itself, or the tool its craft was renamed to after discovery. */
  private async resolve(name: string): Promise<string> {
    if (this.jobs.has(name)) return name;
    return (await this.store.aliasOf(name)) ?? name;
  }

  async require(name: string): Promise<Craft> {
    checkName(name);
    const craft = await this.get(name).catch((err) => {
      throw new UserError((err as Error).message);
    });
    const quarantined = craft ? undefined : await this.store.quarantined(name);
    if (quarantined) throw new UserError(quarantineMessage(name, quarantined));
    if (!craft) {
      throw new UserError(`no crafted tool or craft named "${name.slice(0, 60)}": craft it with craft_tool, or list what exists with flakebot list`);
    }
    return craft;
  }

  async logTail(name: string, lines = 40): Promise<string[]> {
    const job = this.jobs.get(name);
    if (job) return job.log.lines(lines);
    return readLogTail(this.store.paths(name).log, lines);
  }

  private async claimName(request: CraftRequest): Promise<string> {
    if (request.name !== undefined) {
      const bad = invalidName(request.name);
      if (bad) throw new UserError(bad);
      if (await this.claimOrReplaceFailed(request.name)) return request.name;
      const alias = await this.store.aliasOf(request.name);
      if (alias) throw new UserError(`"${request.name}" is another name of the tool "${alias}" (renamed after its crate): dispose "${alias}" first, or choose another name`);
      throw new UserError(`a tool named "${request.name}" already exists or is being crafted: dispose it first (dispose_tool), or choose another name`);
    }
    const base = requestedName(request) || nameFromInstructions(request.instructions);
    const name = await this.claimFree(base);
    if (!name) throw new UserError(`could not find a free tool name near "${base}": give one with "name"`);
    return name;
  }

  /** Claims `base`, or the first free of base_2 .. base_99. */
  private async claimFree(base: string): Promise<string | undefined> {
    for (let i = 1; i < 100; i++) {
      const name = i === 1 ? base : `${base.slice(0, 44)}_${i}`;
      if (await this.claimOrReplaceFailed(name)) return name;
    }
    return undefined;
  }

  private async claimOrReplaceFailed(name: string): Promise<boolean> {
    if (await this.store.claim(name)) return true;
    const existing = await this.store.load(name).catch(() => undefined);
    if (existing?.status === "failed" && !this.jobs.has(name)) {
      await this.store.remove(name);
      return this.store.claim(name);
    }
    return false;
  }

  /** Validates the request, claims the name and starts the craft as a job. */
  async craft(request: CraftRequest): Promise<Craft> {
    if (this.closed) throw new UserError("the server is shutting down");
    if (this.cannotWrite) await this.probeHome(); // space may have come back since
    if (this.cannotWrite) throw new UserError(this.cannotWrite);
    const problem = requestProblem(request);
    if (problem) throw new UserError(problem);
    let sandboxed: boolean;
    let llm: LlmProvider | undefined;
    try {
      sandboxed = sandboxEnabled(this.config);
      llm = this.options.llm?.();
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    const { backend, fallback } = await selectBackend(this.config);
    const name = await this.claimName(request);
    const now = new Date().toISOString();
    const craft: Craft = {
      schema: 1,
      name,
      status: "building",
      stage: undefined,
      message: "queued",
      request,
      owner_pid: process.pid,
      owner_start: selfRef().start,
      created_at: now,
      updated_at: now,
    };
    const paths = this.store.paths(name);
    await this.store.save(craft);
    const controller = new AbortController();
    const toolLog = new ToolLog(paths.log);
    const events = new EventEmitter();
    const job: Job = { craft, controller, log: toolLog, events, done: Promise.resolve(craft) };
    const publish = (c: Craft, note: string) => {
      job.craft = c;
      events.emit("update", c, note);
      this.emit("update", c, note);
    };
    const ctx: StageContext = {
      config: this.config,
      paths,
      request: craft.request,
      signal: controller.signal,
      log: (line) => toolLog.write(line),
      progress: (message) => {
        toolLog.write(`-- ${message}`);
        publish({ ...job.craft, message }, message);
      },
      llm,
      sandboxed,
      backend,
      fallback,
    };
    // A name from the instructions alone is provisional: the crate discovery chooses names the tool.
    const provisional = request.name === undefined && !requestedName(request);
    const steps = craftPipeline({ startService: startServiceStage(this.services), ...(provisional ? { nameAfterCrate: this.nameAfterCrate(job) } : {}) });
    ctx.buildSlot = (task) => this.queue.run(controller.signal, (ahead) => ctx.progress(`waiting for a build slot (${ahead} ahead)`), task);
    this.jobs.set(name, job); // before the pipeline runs: nameAfterCrate moves the job to its new name
    job.done = runCraft(ctx, craft, steps, {
      save: async (c) => {
        job.craft = c;
        await this.store.save(c);
      },
      stageChanged: (c) => publish(c, c.message),
    })
      .then(
        (done) => this.finishReady(job, done),
        (err) => this.finishFailed(job, err),
      )
      .finally(async () => {
        await toolLog.close();
        this.jobs.delete(job.craft.name);
        events.emit("done", job.craft);
      });
    return craft;
  }

  /**
   * The step after discover for a craft without a name of its own: it takes the name of the
   * crate's binary (or the crate), with _2.. when taken, before acquire puts anything under
   * the tool's directory. The provisional name stays an alias (store.rename) until dispose.
   */
  private nameAfterCrate(job: Job): StageFn {
    return async (ctx, craft) => {
      const base = craft.crate ? nameFromCrate(craft.crate) : "";
      const old = craft.name;
      if (!base || old === base || isNumbered(old, base)) return {};
      const name = await this.claimFree(base);
      if (!name) {
        ctx.log(`naming: no free name near "${base}"; the tool keeps the name "${old}"`);
        return {};
      }
      const message = `named "${name}" after the crate ${craft.crate!.name}; "${old}" stays another name for it until it is disposed`;
      const renamed: Craft = { ...craft, name, renamed_from: old, message, updated_at: new Date().toISOString() };
      await this.store.rename(old, renamed);
      this.jobs.delete(old);
      this.jobs.set(name, job);
      job.craft = renamed;
      ctx.paths = this.store.paths(name);
      job.log.moveTo(ctx.paths.log);
      ctx.progress(message);
      return { name, renamed_from: old, message };
    };
  }

  private async finishReady(job: Job, craft: Craft): Promise<Craft> {
    const ready: Craft = {
      ...craft,
      status: "ready",
      stage: "register",
      owner_pid: undefined,
      owner_start: undefined,
      message: [readyMessage(craft), craft.source?.fork_note].filter(Boolean).join("; "),
      updated_at: new Date().toISOString(),
    };
    job.craft = ready;
    await this.store.save(ready);
    job.log.write(`== ready: ${ready.build?.binary}`);
    this.emit("ready", ready);
    return ready;
  }

  private async finishFailed(job: Job, err: unknown): Promise<Craft> {
    const cancelled = job.controller.signal.aborted;
    const stage = err instanceof CraftError ? err.stage : job.craft.stage;
    const reason = cancelled
      ? "the craft was cancelled"
      : err instanceof CraftError
        ? err.message
        : `internal error in stage ${stage ?? "start"}: ${(err as Error)?.message ?? String(err)}`;
    // A full disk shows up as odd failures (a linker's bus error, a truncated file): say so.
    const lowDisk = cancelled ? undefined : await lowDiskNote(this.config.home);
    const message = lowDisk ? `${lowDisk}
${reason}` : reason;
    if (!(err instanceof CraftError) && !cancelled) log.error(`craft ${job.craft.name}: ${(err as Error)?.stack ?? err}`);
    job.log.write(`== failed at ${stage ?? "start"}: ${message}`);
    const failed: Craft = {
      ...job.craft,
      status: "failed",
      stage,
      owner_pid: undefined,
      owner_start: undefined,
      message: cancelled ? message : `failed at stage "${stage}": ${firstLine(message)}`,
      error: message,
      updated_at: new Date().toISOString(),
    };
    job.craft = failed;
    await removeTree(this.store.paths(failed.name).workspace).catch((e) => log.warn(`could not remove ${failed.name}'s workspace: ${(e as Error).message}`));
    if (!cancelled) await this.store.save(failed).catch(() => {});
    return failed;
  }

  /**
   * Waits up to `ms` for the craft to leave "building", calling `onUpdate` on every stage
   * change. The job goes on when the wait ends or `signal` aborts.
   */
  async wait(name: string, ms: number, onUpdate?: (c: Craft, note: string) => void, signal?: AbortSignal): Promise<Craft> {
    const job = this.jobs.get(await this.resolve(name));
    if (!job || ms <= 0) return this.require(name);
    return new Promise<Craft>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        job.events.off("update", update);
        job.events.off("done", finish);
        signal?.removeEventListener("abort", finish);
        resolve(asCalled(name, job.craft));
      };
      const update = (c: Craft, note: string) => onUpdate?.(c, note);
      // setTimeout takes at most 2^31-1 ms; a longer wait is a wait without a timer.
      const timer = ms < 2 ** 31 ? setTimeout(finish, ms) : undefined;
      job.events.on("update", update);
      job.events.once("done", finish);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  /** One piece of a tool's provenance: its manifest, build log, diff against upstream, or flake.nix. */
  async provenance(name: string, part: "manifest" | "build-log" | "diff" | "flake.nix"): Promise<string> {
    const craft = await this.require(name);
    const paths = this.store.paths(craft.name);
    switch (part) {
      case "manifest":
        return JSON.stringify(craft, null, 2);
      case "build-log":
        return (await readLogTail(paths.log, 100_000, 1024 * 1024)).join("\n");
      case "diff":
        if (!craft.source?.base) return "";
        return diffSince(paths.workspace, craft.source.base).catch((err) => {
          throw new UserError(`the diff of "${name}" is not available: ${(err as Error).message}`);
        });
      case "flake.nix":
        // Only flake.nix as a regular file of the workspace: a source may have made it a link.
        return readRegularFile(paths.workspace, "flake.nix", 1024 * 1024).then(
          (buf) => buf.toString("utf8"),
          (err) => {
            if (err instanceof UnsafePathError) throw new UserError(`the flake.nix of "${name}" is not shown: ${err.message}`);
            throw new UserError(`"${name}" has no flake.nix (it was built with ${craft.build?.backend ?? "no"} backend)`);
          },
        );
    }
  }

  /** The client's roots (file:// URIs): readable by crafted tools, writable under the "roots" policy. */
  setRoots(uris: string[]): void {
    this.roots = rootsAccess(uris, this.config.sandboxWrite);
    log.info(`client roots: ${this.roots.writable.length} writable, ${this.roots.readOnly.length} read-only for crafted tools`);
  }

  /** Runs a ready crafted tool. A non-zero exit is a normal result. */
  async invoke(name: string, input: InvokeInput, signal?: AbortSignal): Promise<InvokeOutput> {
    const craft = await this.require(name);
    if (craft.status !== "ready" || !craft.build) {
      throw new UserError(
        craft.status === "building"
          ? `"${name}" is still being crafted (stage ${craft.stage ?? "queued"}): wait with describe_tool {"name": "${name}", "wait_seconds": 60}`
          : `"${name}" is not ready (its craft failed: ${firstLine(craft.error ?? craft.message)}); dispose it and craft again`,
      );
    }
    if (craft.request.kind === "service") throw new UserError(`"${name}" is a service: call it by name with {"method": "GET", "path": "/"}`);
    const problem = await manifestProblem(this.config.home, craft);
    if (problem) throw new UserError(await this.quarantine(craft.name, problem));
    const paths = this.store.paths(craft.name);
    const granted = this.config.sandboxRead.filter((p) => existsSync(p));
    const readOnly = [...this.roots.readOnly, ...granted];
    const out = await invokeBinary(
      {
        binary: craft.build.binary,
        scratch: paths.scratch,
        sandboxed: this.sandboxFor(craft),
        signal,
        sandbox: { hide: [this.config.home], limits: this.config.limits, ...this.roots, readOnly },
      },
      input,
    ).catch((err) => {
      throw err instanceof ArgumentsTooLong ? new UserError(err.message) : err;
    });
    await this.touch(craft);
    const hidden = craft.sandboxed ? hiddenNote(hiddenPaths(input.args ?? [], { shown: [...readOnly, ...this.roots.writable, paths.scratch], hidden: [this.config.home] })) : undefined;
    const note = [craft.name !== name ? renamedNote(name, craft.name) : undefined, hidden].filter(Boolean).join("; ");
    return note ? { ...out, note } : out;
  }

  /** Sends one HTTP request to a running crafted service. */
  async serviceRequest(name: string, input: ServiceRequest, signal?: AbortSignal): Promise<ServiceResponse> {
    const craft = await this.require(name);
    try {
      const out = await this.services.request(craft.name, input, signal);
      await this.touch(craft);
      return out;
    } catch (err) {
      if (err instanceof RequestRefused || err instanceof ServiceUnavailable) throw new UserError(err.message);
      throw err;
    }
  }

  /** Keeps the manifest's service state current for other processes (flakebot describe). */
  private async saveServiceState(name: string, service: ServiceInfo): Promise<void> {
    const fresh = await this.store.load(name).catch(() => undefined);
    if (fresh?.status === "ready") await this.store.save({ ...fresh, service }).catch(() => {});
  }

  private async touch(craft: Craft): Promise<void> {
    const last = craft.last_used_at ? Date.parse(craft.last_used_at) : 0;
    if (Date.now() - last < LAST_USED_EVERY_MS) return;
    const fresh = await this.store.load(craft.name).catch(() => undefined);
    if (fresh?.status === "ready") await this.store.save({ ...fresh, last_used_at: new Date().toISOString() }).catch(() => {});
  }

  /** Cancels a craft, unregisters and deletes a tool. Returns what it removed. */
  async dispose(asked: string): Promise<{ disposed: string; removed: string[] }> {
    checkName(asked);
    let name = await this.resolve(asked);
    const removed: string[] = [];
    const job = this.jobs.get(name);
    if (job) {
      job.controller.abort(new Error("disposed"));
      await job.done.catch(() => {});
      removed.push(`craft job (cancelled at stage ${job.craft.stage ?? "queued"})`);
      name = job.craft.name; // renamed after its crate while it was cancelled
    }
    let craft: Craft | undefined;
    try {
      craft = await this.get(name);
    } catch {
      craft = undefined; // a corrupt manifest: its directory is still removed below
    }
    const paths = this.store.paths(name);
    const exists = await fs.access(paths.dir).then(() => true, () => false);
    if (!craft && !exists) {
      if (name === asked) throw new UserError(`no crafted tool or craft named "${asked.slice(0, 60)}" to dispose`);
      await this.store.remove(asked); // an alias whose tool is gone
      return { disposed: asked, removed: [aliasRemoved(asked, name)] };
    }
    const others = async () => (await this.store.list()).crafts.filter((c) => c.name !== name);
    for (const part of disposers({ config: this.config, store: this.store, services: this.services, others })) {
      removed.push(...(await part.dispose(name, craft, paths)));
    }
    this.emit("removed", name);
    return { disposed: name, removed };
  }

  /** Drops the tools among `names` whose manifest another process removed (flakebot dispose). */
  async noticeGone(names: string[]): Promise<void> {
    for (const name of names) {
      if (this.jobs.has(name) || (await this.store.exists(name))) continue;
      await this.services.stop(name).catch(() => []);
      log.info(`tool "${name}" was disposed by another process: unregistered`);
      this.emit("removed", name);
    }
  }

  /** Cancels every job and kills every child process. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs.values()) job.controller.abort(new Error("server shutting down"));
    await Promise.race([this.services.stopAll(), new Promise((r) => setTimeout(r, 3000))]);
    killAllChildren();
    await Promise.race([Promise.allSettled([...this.jobs.values()].map((j) => j.done)), new Promise((r) => setTimeout(r, 3000))]);
    killAllChildren();
  }
}

const LOW_DISK_BYTES = 64 * 1024 * 1024;

/** A note when the state directory's filesystem is (nearly) full, else undefined. */
async function lowDiskNote(dir: string): Promise<string | undefined> {
  try {
    const s = await fs.statfs(dir);
    const free = s.bavail * s.bsize;
    if (free >= LOW_DISK_BYTES) return undefined;
    return `No space left on device, or nearly: FLAKEBOT_HOME (${dir}) has ${Math.floor(free / 1024)} KiB free. Free some space (dispose unused tools) or point FLAKEBOT_HOME at a larger disk, then craft again.`;
  } catch {
    return undefined;
  }
}

/** rm -rf that retries while a dying build still writes into the tree. */
function removeTree(dir: string): Promise<void> {
  return fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

export function quarantineMessage(name: string, problem: string): string {
  return `"${name}" is quarantined: its manifest does not verify (${problem}), so Flakebot will not run it. The manifest was moved aside to tools/${name}/manifest.quarantined.json; look at what changed, then dispose it (dispose_tool) and craft it again`;
}

/** The one check on a name a caller gives before it becomes a path under tools/. */
function checkName(name: string): void {
  if (isToolName(name)) return;
  throw new UserError(
    `"${name.slice(0, 60)}" is not a crafted tool's name: names are 1 to 48 lowercase letters, digits or underscores, starting with a letter. List the tools with tools/list or flakebot list`,
  );
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

/** The name the request implies (its bin, package, crate or source), or "" when only the instructions say what it is. */
function requestedName(request: CraftRequest): string {
  const fromSource = request.source?.replace(/\/+$/, "").split(/[/:]/).pop()?.replace(/\.git$/, "");
  return toToolName(request.bin ?? request.package ?? request.crate ?? fromSource ?? "");
}

/** True for base_2 .. base_99, the names claimFree falls back on. */
function isNumbered(name: string, base: string): boolean {
  const stem = `${base.slice(0, 44)}_`;
  return name.startsWith(stem) && /^\d+$/.test(name.slice(stem.length));
}

function renamedNote(alias: string, name: string): string {
  return `"${alias}" was renamed "${name}" after its crate: call it "${name}" (the old name works until the tool is disposed)`;
}

/** The record as the caller who named it `name` sees it: called by an alias, the message says so. */
function asCalled(name: string, craft: Craft): Craft {
  return craft.name === name ? craft : { ...craft, message: `${renamedNote(name, craft.name)}. ${craft.message}` };
}
