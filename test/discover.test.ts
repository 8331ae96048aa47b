// Discovery against a crates.io stand-in speaking the real API's shapes: the keywords of
// the instructions, the ranking among decoys, politeness (User-Agent, one request per
// second, Retry-After), and clear errors for 500s, garbage and crates without a binary.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { CraftError } from "../src/model/errors.js";
import type { Craft } from "../src/model/craft.js";
import { makeDiscover } from "../src/craft/stages/discover.js";
import { isOsiLicense } from "../src/discovery/rank.js";
import { queriesFromInstructions } from "../src/discovery/keywords.js";
import { nameFromCrate } from "../src/model/names.js";
import { CratesIoClient, USER_AGENT, newestUsableVersion } from "../src/sources/cratesio.js";
import { startCratesIo, type CratesIoStandIn } from "./fixtures/far-ends/cratesio.js";
import { hexCatalogue, stageSetup } from "./fixtures/far-ends/upstreams.js";

const INSTRUCTIONS = "show a hex dump of a file";
const servers: CratesIoStandIn[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function standIn(catalogue = hexCatalogue()): Promise<CratesIoStandIn> {
  const s = await startCratesIo(catalogue);
  servers.push(s);
  return s;
}

/** A client with short waits, so the tests of everything but the pacing stay quick. */
function quickClient(url: string, backoffMs = 50): CratesIoClient {
  return new CratesIoClient(url, { minIntervalMs: 20, backoffMs, retries: 2 });
}

function setup(url: string, request: { crate?: string; source?: string } = {}) {
  return stageSetup({ FLAKEBOT_HOME: "/tmp/flakebot-discover-unused", FLAKEBOT_CRATES_IO_URL: url }, "hexdump", { instructions: INSTRUCTIONS, ...request });
}

test("the instructions' keywords make the queries: the job's words, not the filler", () => {
  const queries = queriesFromInstructions(INSTRUCTIONS);
  assert.deepEqual(queries, ["hex dump", "hex", "dump"]);
  assert.deepEqual(queriesFromInstructions("Please convert markdown files to html"), ["convert markdown html", "convert markdown", "markdown html", "convert"]);
  assert.deepEqual(queriesFromInstructions("a the of"), []);
});

test("OSI licenses are recognised in SPDX and slash forms", () => {
  assert.equal(isOsiLicense("MIT/Apache-2.0"), true);
  assert.equal(isOsiLicense("MIT OR Apache-2.0"), true);
  assert.equal(isOsiLicense("(MIT OR Apache-2.0) AND Unicode-3.0"), true);
  assert.equal(isOsiLicense("GPL-3.0-or-later"), true);
  assert.equal(isOsiLicense("LicenseRef-Proprietary"), false);
  assert.equal(isOsiLicense(undefined), false);
});

test("hexyl is chosen among the decoys, and every candidate's reason says why", async () => {
  const s = await standIn();
  const { ctx, craft, lines } = setup(s.url);
  const result = await makeDiscover({ client: quickClient(s.url) })(ctx, craft);
  assert.deepEqual(result.crate, { name: "hexyl", version: "0.8.0", repository: "https://github.com/sharkdp/hexyl", bins: ["hexyl"] });
  const names = result.candidates!.filter((c) => !c.rejected).map((c) => c.name);
  assert.equal(names[0], "hexyl");
  // the library-only crate and the one whose binary release is yanked are set aside, and say why
  assert.ok(!names.includes("hex") && !names.includes("hxdmp"), names.join(","));
  assert.ok(names.includes("hexpeek"));
  const rejected = Object.fromEntries(result.candidates!.filter((c) => c.rejected).map((c) => [c.name, c.rejected]));
  assert.match(rejected.hex ?? "", /^library only/);
  assert.equal(rejected.hxdmp, "no binary in 0.9.0; the release with one (1.0.0) is yanked");
  assert.ok(result.candidates!.findIndex((c) => c.rejected) > names.length - 1, "the usable candidates come first");
  const hexyl = result.candidates![0];
  assert.equal(hexyl.downloads, 512_345);
  assert.match(hexyl.reason, /ships binary hexyl in 0\.8\.0/);
  assert.match(hexyl.reason, /repository github\.com\/sharkdp\/hexyl/);
  assert.match(hexyl.reason, /MIT\/Apache-2\.0 \(OSI\)/);
  assert.match(hexyl.reason, /matches "hex" in name\/description/);
  const hexpeek = result.candidates!.find((c) => c.name === "hexpeek")!;
  assert.match(hexpeek.reason, /no repository/);
  // why the decoys were set aside is in the log
  const log = lines.join("\n");
  assert.match(log, /hex \(library only/);
  assert.match(log, /hxdmp \(no binary in 0\.9\.0; the release with one \(1\.0\.0\) is yanked\)/);
  // every query was searched, each search and details request carried Flakebot's User-Agent
  const searched = s.requests.filter((r) => r.path.startsWith("/api/v1/crates?")).map((r) => new URL(r.path, s.url).searchParams.get("q"));
  assert.deepEqual(searched, ["hex dump", "hex", "dump"]);
  assert.ok(s.requests.every((r) => r.userAgent === USER_AGENT));
  assert.match(USER_AGENT, /^flakebot\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/flakebot\/flakebot\)$/);
});

test("an LLM pick among the ranked candidates is honoured, and a pick outside them is not", async () => {
  const s = await standIn();
  const { ctx, craft } = setup(s.url);
  const seen: string[][] = [];
  const chose = await makeDiscover({
    client: quickClient(s.url),
    pick: async (ranked) => {
      seen.push(ranked.map((r) => r.name));
      return { name: "hexpeek", reason: "it only needs the first bytes" };
    },
  })(ctx, craft);
  assert.equal(chose.crate!.name, "hexpeek");
  assert.equal(chose.crate!.repository, undefined);
  assert.match(chose.candidates![0].reason, /chosen: it only needs the first bytes/);
  assert.deepEqual(seen[0].slice(0, 2), ["hexyl", "hexpeek"]);
  const stray = await makeDiscover({ client: quickClient(s.url), pick: async () => ({ name: "left-pad", reason: "?" }) })(ctx, craft);
  assert.equal(stray.crate!.name, "hexyl");
  const broken = setup(s.url);
  const fallback = await makeDiscover({
    client: quickClient(s.url),
    pick: async () => {
      throw new Error("the LLM answered nonsense");
    },
  })(broken.ctx, broken.craft);
  assert.equal(fallback.crate!.name, "hexyl");
  assert.match(broken.lines.join("\n"), /choosing among the candidates failed \(the LLM answered nonsense\); taking the best ranked, hexyl/);
});

test("the plan's queries, when there is a plan, are searched instead of keywords", async () => {
  const s = await standIn();
  const { ctx, craft } = setup(s.url);
  // the LLM engineer's plan stage records { plan: { queries, ... } } on the craft
  const planned = { ...craft, plan: { queries: ["hex viewer"] } } as Craft;
  const result = await makeDiscover({ client: quickClient(s.url) })(ctx, planned);
  assert.equal(result.crate!.name, "hexyl");
  const searched = s.requests.filter((r) => r.path.startsWith("/api/v1/crates?")).map((r) => new URL(r.path, s.url).searchParams.get("q"));
  assert.deepEqual(searched, ["hex viewer"]);
  assert.match(result.candidates![0].reason, /matches "hex" in name\/description, "viewer" in description/);

  const nothing = setup(s.url);
  await assert.rejects(
    makeDiscover({ client: quickClient(s.url) })(nothing.ctx, { ...nothing.craft, plan: { queries: ["quantum teleporter"] } } as Craft),
    /crates\.io found no crate for "quantum teleporter": describe the tool differently, or give "crate" \(a crates\.io name\) or "source"/,
  );
});

test("a named crate skips the search; a source skips discovery", async () => {
  const s = await standIn();
  const named = setup(s.url, { crate: "duo-cli" });
  const result = await makeDiscover({ client: quickClient(s.url) })(named.ctx, named.craft);
  assert.deepEqual(result.crate, { name: "duo-cli", version: "0.3.0", repository: "https://github.com/example/duo", bins: ["duo"] });
  assert.ok(!s.requests.some((r) => r.path.startsWith("/api/v1/crates?")));

  const lib = setup(s.url, { crate: "hex" });
  await assert.rejects(makeDiscover({ client: quickClient(s.url) })(lib.ctx, lib.craft), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "discover");
    assert.match(err.message, /"hex" 0\.4\.3 ships no binary/);
    return true;
  });
  const missing = setup(s.url, { crate: "no-such-crate" });
  await assert.rejects(makeDiscover({ client: quickClient(s.url) })(missing.ctx, missing.craft), /no crate named "no-such-crate"/);

  const before = s.requests.length;
  const local = setup(s.url, { source: "/some/dir" });
  assert.deepEqual(await makeDiscover({ client: quickClient(s.url) })(local.ctx, local.craft), {});
  assert.equal(s.requests.length, before);
});

test("no candidate with a binary: the message lists what was found and what to do", async () => {
  const libsOnly = hexCatalogue().filter((c) => c.name === "hex" || c.name === "hxdmp");
  const s = await standIn(libsOnly);
  const { ctx, craft } = setup(s.url);
  await assert.rejects(makeDiscover({ client: quickClient(s.url) })(ctx, craft), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "discover");
    assert.match(err.message, /none of the crates found for "hex dump", "hex", "dump" ships a binary/);
    assert.match(err.message, /hex 0\.4\.3 \(library only/);
    assert.match(err.message, /hxdmp 0\.9\.0 \(no binary in 0\.9\.0; the release with one \(1\.0\.0\) is yanked\)/);
    assert.match(err.message, /"crate"/);
    assert.match(err.message, /"source"/);
    return true;
  });
});

test("429 then 200: the client waits as long as Retry-After says, then succeeds", async () => {
  const s = await standIn();
  s.fault({ status: 429, headers: { "retry-after": "1" }, body: JSON.stringify({ errors: [{ detail: "slow down" }] }) });
  const client = quickClient(s.url, 10);
  const details = await client.details("hexyl");
  assert.equal(newestUsableVersion(details.versions)?.num, "0.8.0");
  assert.equal(s.requests.length, 2);
  const gap = s.requests[1].at - s.requests[0].at;
  assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After asked for 1 s`);
});

test("a Retry-After beyond the bound is a clear error instead of a long wait", async () => {
  const s = await standIn();
  s.fault({ status: 429, headers: { "retry-after": "3600" } });
  const started = Date.now();
  await assert.rejects(quickClient(s.url).search("hex"), /answered 429 and asks to wait 3600 s before retrying; try again later/);
  assert.ok(Date.now() - started < 2000);
});

test("500s on every attempt: bounded retries, then a clear error naming the URL", async () => {
  const s = await standIn();
  s.fault({ status: 500 }, { status: 502 }, { status: 503 }, { status: 500 });
  const { ctx, craft } = setup(s.url);
  await assert.rejects(makeDiscover({ client: quickClient(s.url) })(ctx, craft), (err: Error) => {
    assert.ok(err instanceof CraftError && err.stage === "discover");
    assert.match(err.message, new RegExp(`${s.url}/api/v1/crates\\?q=hex%20dump&per_page=10 failed 3 times \\(last: 503`));
    assert.match(err.message, /try again later/);
    return true;
  });
  assert.equal(s.requests.length, 3);
});

test("garbage instead of JSON, or JSON of another shape, is a clear error naming the URL", async () => {
  const s = await standIn();
  s.fault({ body: "<html>Service Unavailable</html>" });
  await assert.rejects(quickClient(s.url).details("hexyl"), (err: Error) => {
    assert.match(err.message, new RegExp(`^${s.url}/api/v1/crates/hexyl did not answer with JSON \\(it began "<html>Service`));
    return true;
  });
  s.fault({ body: JSON.stringify({ crate: { name: "hexyl" }, versions: "many" }) });
  await assert.rejects(quickClient(s.url).details("hexyl"), /crates\/hexyl answered JSON that is not the crates\.io API's shape \(crate\.downloads: /);
});

test("the default client spaces requests to a host at least one second apart", async () => {
  const s = await standIn();
  const client = new CratesIoClient(s.url);
  await Promise.all([client.search("hex"), client.search("dump"), new CratesIoClient(s.url).details("hexyl")]);
  const times = s.requests.map((r) => r.at).sort((a, b) => a - b);
  assert.equal(times.length, 3);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 950, `requests ${times[i] - times[i - 1]} ms apart`);
});

test("the crate discovery chose names a tool without a name: its one binary, else the crate", () => {
  assert.equal(nameFromCrate({ name: "duo-cli", bins: ["duo"] }), "duo");
  assert.equal(nameFromCrate({ name: "ripgrep", bins: ["rg"] }), "rg");
  assert.equal(nameFromCrate({ name: "multi-tool", bins: ["one", "two"] }), "multi_tool", "several binaries: the crate");
  assert.equal(nameFromCrate({ name: "old-crate", bins: [] }), "old_crate", "crates.io lists none: the crate");
  assert.equal(nameFromCrate({ name: "x-y", bins: ["2048"] }), "x_y", "a binary that makes no tool name: the crate");
});
