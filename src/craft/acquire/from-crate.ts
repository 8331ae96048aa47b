// The acquire stage for a crate from crates.io: clone its repository at the tag of the
// published version (through a fork on GitHub when there is a token), check that the
// repository holds the crate, and otherwise fall back to the published .crate archive,
// verified against its checksum. The workspace is left as a git repository on the branch
// flakebot/<tool>.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import type { CrateInfo, SourceInfo } from "../../model/craft.js";
import { type StageContext, type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import { cloneRepo, headCommit, initRepo, isGitUrl, runGit } from "../../sources/git.js";
import { cargoMetadata } from "../../backends/cargo/cargo.js";
import { CratesIoClient, CratesIoError } from "../../sources/cratesio.js";
import { githubWebUrl, parseGithubRepo } from "../../sources/github.js";
import { forkFacts as factsOf, forkIfPossible, type ForkOptions } from "./fork.js";
import { runChecked } from "../../exec/process.js";
import { toolchainEnv } from "../../exec/env.js";
import { inside } from "../../state/paths.js";
import { locateTarget, startBranch } from "./from-source.js";

export interface AcquireCrateDeps extends ForkOptions {
  client?: CratesIoClient;
}

/** The tag names a release of `crate` `version` is usually published under, in order of preference. */
export function tagCandidates(crate: string, version: string): string[] {
  return [`v${version}`, version, `${crate}-v${version}`, `${crate}-${version}`, `${crate}/v${version}`, `${crate}@${version}`];
}

/** A repository URL as git takes it: GitHub URLs reduced to the repository itself. */
export function normalizeRepository(url: string): string {
  const gh = parseGithubRepo(url);
  return gh ? githubWebUrl(gh) : url.trim().replace(/\/+$/, "");
}

interface RemoteRefs {
  tags: Set<string>;
  defaultBranch?: string;
}

async function remoteRefs(url: string, cwd: string, signal: AbortSignal): Promise<RemoteRefs> {
  const out = await runGit(cwd, ["ls-remote", "--symref", url, "HEAD", "refs/tags/*"], { signal, timeoutMs: 120_000 });
  const tags = new Set<string>();
  let defaultBranch: string | undefined;
  for (const line of out.split("\n")) {
    const sym = /^ref: refs\/heads\/(\S+)\s+HEAD$/.exec(line.trim());
    if (sym) defaultBranch = sym[1];
    const tag = /\trefs\/tags\/(.+?)(\^\{\})?$/.exec(line);
    if (tag) tags.add(tag[1]);
  }
  return { tags, defaultBranch };
}

interface Cloned {
  rev: string;
  note?: string;
}

/** Clones at the release tag when there is one, else the default branch (saying so). */
async function cloneAtRelease(url: string, ws: string, crate: CrateInfo, ctx: StageContext): Promise<Cloned> {
  const refs = await remoteRefs(url, path.dirname(ws), ctx.signal);
  const candidates = tagCandidates(crate.name, crate.version);
  const tag = candidates.find((t) => refs.tags.has(t));
  if (tag) {
    ctx.progress(`cloning ${url} at ${tag}`);
    await cloneRepo(url, ws, { rev: tag, shallow: true, signal: ctx.signal });
    return { rev: tag };
  }
  const branch = refs.defaultBranch;
  ctx.progress(`cloning ${url} (no tag for ${crate.version})`);
  await cloneRepo(url, ws, { rev: branch, shallow: !!branch, signal: ctx.signal });
  const rev = branch ?? (await runGit(ws, ["rev-parse", "--abbrev-ref", "HEAD"], { signal: ctx.signal })).trim();
  return {
    rev,
    note: `no tag for the published version ${crate.version} (looked for ${candidates.join(", ")}): cloned the default branch ${rev}, which may differ from what was published`,
  };
}

/** True when the workspace has a package named `name` (cargo metadata without dependencies). */
async function hasPackage(ws: string, name: string, signal: AbortSignal, sandbox?: boolean): Promise<{ ok: boolean; version?: string; why?: string }> {
  if (!existsSync(path.join(ws, "Cargo.toml"))) return { ok: false, why: "there is no Cargo.toml at the repository's root" };
  try {
    const meta = await cargoMetadata({ cwd: ws, signal, timeoutMs: 120_000, sandbox });
    const pkg = meta.packages.find((p) => p.name === name);
    if (!pkg) return { ok: false, why: `it has no package named ${name} (packages: ${meta.packages.map((p) => p.name).join(", ") || "none"})` };
    return { ok: true, version: pkg.version };
  } catch (err) {
    return { ok: false, why: (err as Error).message.split("\n").slice(0, 3).join(" ") };
  }
}

/** Lists the archive's entries and refuses any that is not a plain file or directory under `prefix/`. */
async function checkArchiveEntries(file: string, prefix: string, cwd: string, signal: AbortSignal): Promise<void> {
  const env = toolchainEnv();
  const names = (await runChecked(["tar", "-tzf", file], { kind: "probe", cwd, env, signal, timeoutMs: 120_000 })).stdout.split("\n").filter(Boolean);
  const long = (await runChecked(["tar", "-tvzf", file], { kind: "probe", cwd, env, signal, timeoutMs: 120_000 })).stdout.split("\n").filter(Boolean);
  if (names.length === 0 || names.length !== long.length) throw new CraftError("acquire", `the crate archive could not be listed consistently; it was not unpacked`);
  names.forEach((name, i) => {
    const type = long[i][0];
    const normal = path.posix.normalize(name);
    const escapes = name.startsWith("/") || normal.startsWith("..") || name.split("/").includes("..");
    if (escapes || !(normal === prefix || normal.startsWith(`${prefix}/`))) {
      throw new CraftError("acquire", `the crate archive has an entry outside ${prefix}/ ("${name}"); it was not unpacked`);
    }
    if (type !== "-" && type !== "d") {
      throw new CraftError("acquire", `the crate archive has an entry that is not a plain file or directory ("${name}"); it was not unpacked`);
    }
  });
}

/** Downloads the published archive, verifies it, and unpacks it into a fresh git repository at `ws`. */
async function fromArchive(client: CratesIoClient, crate: CrateInfo, ws: string, ctx: StageContext): Promise<{ url: string; commit: string }> {
  const { name, version } = crate;
  ctx.progress(`downloading ${name} ${version} from crates.io`);
  let archive: Buffer;
  try {
    const record = await client.version(name, version, ctx.signal);
    archive = await client.download(name, version, record.checksum, ctx.signal);
  } catch (err) {
    if (err instanceof CratesIoError) throw new CraftError("acquire", `crates.io: ${err.message}`);
    throw err;
  }
  const downloads = inside(ctx.paths.dir, "download");
  await mkdir(downloads, { recursive: true });
  const file = path.join(downloads, `${name}-${version}.crate`);
  await writeFile(file, archive);
  const prefix = `${name}-${version}`;
  await checkArchiveEntries(file, prefix, downloads, ctx.signal);
  await rm(ws, { recursive: true, force: true });
  await mkdir(ws, { recursive: true });
  await runChecked(["tar", "-xzf", file, "-C", ws, "--strip-components=1", "--no-same-owner", "--no-same-permissions", prefix], {
    kind: "probe",
    cwd: downloads,
    env: toolchainEnv(),
    signal: ctx.signal,
    timeoutMs: 120_000,
  });
  await rm(downloads, { recursive: true, force: true });
  if (!existsSync(path.join(ws, "Cargo.toml"))) throw new CraftError("acquire", `the archive of ${name} ${version} has no Cargo.toml`);
  const commit = await initRepo(ws, `${name} ${version} as published on crates.io`);
  return { url: `${client.apiBase}/crates/${name}/${version}/download`, commit };
}

/** Clones the first of `urls` that works; each failure becomes a note. */
async function cloneFirst(urls: string[], ws: string, crate: CrateInfo, ctx: StageContext, notes: string[]): Promise<(Cloned & { url: string }) | undefined> {
  for (const [i, url] of urls.entries()) {
    try {
      const cloned = await cloneAtRelease(url, ws, crate, ctx);
      if (i > 0) notes.push(`cloned ${url} instead`);
      return { ...cloned, url };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const why = (err as Error).message.split("\n").filter(Boolean).slice(0, 2).join(" ");
      notes.push(`cloning ${url} failed (${why})`);
      ctx.log(`acquire: cloning ${url} failed: ${why}`);
      await rm(ws, { recursive: true, force: true });
    }
  }
  return undefined;
}

export function makeAcquireCrate(deps: AcquireCrateDeps = {}): StageFn {
  return async (ctx, craft) => {
    if (ctx.request.source) return {};
    const crate = craft.crate;
    if (!crate) throw new CraftError("acquire", `no crate was chosen to start from: give "crate" or "source"`);
    const ws = ctx.paths.workspace;
    await mkdir(path.dirname(ws), { recursive: true });
    await rm(ws, { recursive: true, force: true });
    const notes: string[] = [];
    let forkFacts: ReturnType<typeof factsOf> = {};

    const repoUrl = crate.repository ? normalizeRepository(crate.repository) : undefined;
    if (repoUrl && isGitUrl(repoUrl)) {
      const forked = await forkIfPossible(ctx, repoUrl, deps);
      const fork = forked.fork;
      if (forked.note) notes.push(forked.note);
      forkFacts = factsOf(forked);
      // A fork that cannot be cloned yet has the upstream's history: clone the upstream, push to the fork later.
      const urls = fork ? [fork.cloneUrl, repoUrl] : [repoUrl];
      const cloned = await cloneFirst(urls, ws, crate, ctx, notes);
      if (cloned) {
        const found = await hasPackage(ws, crate.name, ctx.signal, ctx.sandboxed);
        if (found.ok) {
          if (cloned.note) notes.push(cloned.note);
          if (found.version && found.version !== crate.version) notes.push(`the checked-out ${crate.name} is version ${found.version}, not ${crate.version}`);
          await startBranch(ctx, craft.name);
          const commit = await headCommit(ws);
          const source: SourceInfo = {
            url: repoUrl,
            rev: cloned.rev,
            commit,
            base: commit,
            origin: "git",
            ...forkFacts,
            ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
          };
          ctx.log(`acquire: ${crate.name} from ${cloned.url} at ${source.rev} (${source.commit})`);
          return { crate, source, target: await locateTarget(ctx, { ...craft, crate }) };
        }
        notes.push(`${cloned.url} does not hold the crate: ${found.why}`);
      }
      notes.push("used the published archive instead");
    } else {
      notes.push(repoUrl ? `the repository "${repoUrl}" is not a git URL; used the published archive` : `${crate.name} names no repository; used the published archive`);
    }

    const client = deps.client ?? new CratesIoClient(ctx.config.cratesIoUrl);
    const { url, commit } = await fromArchive(client, crate, ws, ctx);
    await startBranch(ctx, craft.name);
    ctx.log(`acquire: ${crate.name} ${crate.version} unpacked from ${url} (${commit})`);
    const source: SourceInfo = { url, rev: crate.version, commit, base: commit, origin: "archive", ...forkFacts, note: notes.join("; ") };
    return { crate, source, target: await locateTarget(ctx, { ...craft, crate }) };
  };
}

export const acquireCrate: StageFn = makeAcquireCrate();
