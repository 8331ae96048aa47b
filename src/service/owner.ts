// Which process runs a tool's service. Several Flakebot processes may share one state
// directory (a long-lived server, a one-connection-per-call client like the Inspector CLI,
// the command line); only one of them runs a given service, the others reach it at the
// port its owner wrote down. The claim is a file created exclusively; a dead owner's claim
// is taken over.
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { alive, isSelf, selfRef, type ProcessRef } from "../exec/procs.js";

export interface Owner extends ProcessRef {
  port: number;
}

export function ownerFile(toolDir: string): string {
  return path.join(toolDir, "service.owner.json");
}

export async function readOwner(toolDir: string): Promise<Owner | undefined> {
  try {
    const o = JSON.parse(await fs.readFile(ownerFile(toolDir), "utf8")) as Owner;
    return Number.isInteger(o.pid) && Number.isInteger(o.port) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Whether another live process runs this service (a synchronous look, for views). */
export function runByOtherSync(toolDir: string): boolean {
  try {
    const o = JSON.parse(readFileSync(ownerFile(toolDir), "utf8")) as Owner;
    return Number.isInteger(o.pid) && !isSelf(o) && alive(o);
  } catch {
    return false;
  }
}

/** Another live process that runs this service, or undefined. */
export async function otherOwner(toolDir: string): Promise<Owner | undefined> {
  const o = await readOwner(toolDir);
  return o && !isSelf(o) && alive(o) ? o : undefined;
}

/** Claims the service for this process; returns the live other owner instead when there is one. */
export async function claim(toolDir: string): Promise<Owner | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(ownerFile(toolDir), "wx", 0o600);
      await handle.writeFile(JSON.stringify({ ...selfRef(), port: 0 }));
      await handle.close();
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const other = await otherOwner(toolDir);
    if (other) return other;
    await fs.rm(ownerFile(toolDir), { force: true }); // a dead owner's (or our own earlier) claim
  }
  return otherOwner(toolDir);
}

export async function recordPort(toolDir: string, port: number): Promise<void> {
  const tmp = `${ownerFile(toolDir)}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ ...selfRef(), port }), { mode: 0o600 });
  await fs.rename(tmp, ownerFile(toolDir));
}

/** Gives up the claim when it is this process's. */
export async function release(toolDir: string): Promise<void> {
  const o = await readOwner(toolDir);
  if (!o || isSelf(o)) await fs.rm(ownerFile(toolDir), { force: true });
}
