/**
 * Fetching from a hostile peer (fixtures/hostile-serve.ts, its own process, real sockets on
 * 127.0.0.1): a flood of hashes crafted to share a prefix, a DAG without end, a peer that goes
 * silent. Each fetch must end with an error naming the peer, while a fetch from an honest server
 * running at the same time completes, and the victim (this process) stays under a memory ceiling.
 * Work is counted (requests the hostile server saw), not timed.
 */
import { afterEach, expect, test } from "bun:test";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { SyncClient } from "../../src/net/client.ts";
import { BudgetExceededError, fetchClosure, MissingBlobError, StalledPeerError } from "../../src/net/fetch.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { openPolicy } from "../../src/net/protocol.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { buildDag, type DagShape } from "./dag.ts";
import { attempt } from "./e2e-helpers.ts";
import { until } from "./fixtures/until.ts";
import { killServers, startHostileServer, startServer, TCP } from "./server-process.ts";
import { tempDir } from "../pile/helpers.ts";

const SHAPE: DagShape = { depth: 3, fanout: 6, salt: 7 };
const none = { capHandle: new Uint8Array(32), chain: [] };
const seed = (n: number) => n.toString(16).padStart(2, "0").repeat(32);
/** The test process's RSS may not pass this during an attack (a bun test process idles near 200 MiB). */
const RSS_CEILING = 1 << 30;

const hosts: Host[] = [];
afterEach(async () => {
  killServers();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function clientHost(): Promise<Host> {
  const h = await createHost({ key: SigningKey.generate(), listen: [], dht: false });
  hosts.push(h);
  return h;
}

/** Starts an honest server and returns a fetch of its whole DAG (run it beside an attack). */
async function honestFetch(host: Host, n: number): Promise<() => Promise<number>> {
  const expected = buildDag(new MemoryStore(), SHAPE);
  const server = await startServer({ seed: seed(n), listen: TCP, dag: SHAPE });
  const client = await SyncClient.connect(host, server.addr, none);
  return async () => {
    const target = new MemoryStore();
    const summary = await fetchClosure(client, expected.root, target);
    expect(target.reader().len).toBe(expected.hashes.length);
    return summary.blobs;
  };
}

/** Settles `work`, sampling this process's RSS meanwhile; returns the outcome and the peak. */
async function withPeakRss<T>(work: Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; peakRss: number }> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 20);
  const [outcome] = await Promise.allSettled([work]);
  clearInterval(sampler);
  return { outcome: outcome!, peakRss: Math.max(peakRss, process.memoryUsage.rss()) };
}

function rejection(outcome: PromiseSettledResult<unknown>): Error {
  if (outcome.status !== "rejected") throw new Error("the attacked fetch succeeded");
  return outcome.reason as Error;
}

test("a CHILDREN reply of 131,072 hashes sharing 4 bytes: the fetch ends naming the peer, an honest fetch completes meanwhile", async () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  const width = 131_072; // 4 MiB of children for one parent
  const hostile = await startHostileServer({ seed: seed(40), listen: TCP, mode: "flood", root: toHex(root), width });
  const host = await clientHost();
  const honest = await honestFetch(host, 41);
  const attacker = await SyncClient.connect(host, hostile.addr, none);
  const attacked = fetchClosure(attacker, root, new MemoryStore());
  const [{ outcome, peakRss }, honestBlobs] = await Promise.all([withPeakRss(attacked), honest()]);
  expect(honestBlobs).toBeGreaterThan(200);
  const error = rejection(outcome);
  expect(error).toBeInstanceOf(MissingBlobError); // it claims children it cannot serve
  expect(error.message).toContain(hostile.peerId);
  // Each claimed blob was asked about once: the root, then every child in 32 requests.
  expect((await hostile.stats()).children).toBe(1 + width);
  expect(peakRss).toBeLessThan(RSS_CEILING);
}, 60_000);

test("a level of 2,000,000 blobs is discovered in windowed requests, without a stack overflow, under the memory ceiling", async () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  const width = 2_000_000; // one 64 MiB list: what a large honest level looks like to the fetch
  const hostile = await startHostileServer({ seed: seed(51), listen: TCP, mode: "flood", root: toHex(root), width });
  const host = await clientHost();
  const attacked = fetchClosure(await SyncClient.connect(host, hostile.addr, none), root, new MemoryStore());
  const { outcome, peakRss } = await withPeakRss(attacked);
  const error = rejection(outcome);
  expect(error).toBeInstanceOf(MissingBlobError); // the level was walked whole; its blobs do not exist
  expect((await hostile.stats()).children).toBe(1 + width);
  expect(peakRss).toBeLessThan(RSS_CEILING);
}, 120_000);

test("a DAG without end stops at the depth budget, naming the peer; an honest fetch completes meanwhile", async () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  const hostile = await startHostileServer({ seed: seed(42), listen: TCP, mode: "endless", root: toHex(root), width: 1 });
  const host = await clientHost();
  const honest = await honestFetch(host, 43);
  const attacked = fetchClosure(await SyncClient.connect(host, hostile.addr, none), root, new MemoryStore(), { limits: { maxDepth: 300 } });
  const [{ outcome, peakRss }] = await Promise.all([withPeakRss(attacked), honest()]);
  const error = rejection(outcome);
  expect(error).toBeInstanceOf(BudgetExceededError);
  expect(error.message).toContain(hostile.peerId);
  expect(error.message).toContain("300 DAG levels");
  // The root and one blob per level down to 300; the reply naming level 301 was refused.
  expect((await hostile.stats()).children).toBe(301);
  expect(peakRss).toBeLessThan(RSS_CEILING);
}, 60_000);

test("a DAG that widens without end stops at the blob budget before indexing the reply that crosses it", async () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  const hostile = await startHostileServer({ seed: seed(44), listen: TCP, mode: "endless", root: toHex(root), width: 512 });
  const host = await clientHost();
  const honest = await honestFetch(host, 45);
  const attacked = fetchClosure(await SyncClient.connect(host, hostile.addr, none), root, new MemoryStore(), { limits: { maxBlobs: 100_000 } });
  const [{ outcome, peakRss }] = await Promise.all([withPeakRss(attacked), honest()]);
  const error = rejection(outcome);
  expect(error).toBeInstanceOf(BudgetExceededError);
  expect(error.message).toContain(hostile.peerId);
  expect(error.message).toContain("100000 blobs discovered");
  // The reply listing level 2 (512 × 512 blobs) crosses it: nothing of it was indexed or asked about.
  expect((await hostile.stats()).children).toBe(1 + 512);
  expect(peakRss).toBeLessThan(RSS_CEILING);
}, 60_000);

test("in a fetch from a liar and an honest peer, the liar is dropped at the budget and the honest peer's DAG arrives whole", async () => {
  const expected = buildDag(new MemoryStore(), SHAPE);
  const hostile = await startHostileServer({ seed: seed(54), listen: TCP, mode: "endless", root: toHex(expected.root), width: 64 });
  const honest = await startServer({ seed: seed(55), listen: TCP, dag: SHAPE });
  const host = await clientHost();
  // The liar comes first, so it is asked first: it lists made-up children for every blob.
  const clients = [await SyncClient.connect(host, hostile.addr, none), await SyncClient.connect(host, honest.addr, none)];
  const target = new MemoryStore();
  const summary = await fetchClosure(clients, expected.root, target, { limits: { maxBlobs: 5000 } });
  expect(target.reader().len).toBe(expected.hashes.length);
  expect(summary.blobs).toBe(expected.hashes.length);
  expect(summary.dropped).toHaveLength(1);
  expect(summary.dropped[0]!.peer).toBe(hostile.peerId);
  expect(summary.dropped[0]!.error).toContain("5000 blobs discovered");
}, 60_000);

test("a bytes-buffered budget refuses a reply before reading it", async () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  const hostile = await startHostileServer({ seed: seed(46), listen: TCP, mode: "flood", root: toHex(root), width: 131_072 });
  const host = await clientHost();
  const attacked = fetchClosure(await SyncClient.connect(host, hostile.addr, none), root, new MemoryStore(), { limits: { maxBufferedBytes: 1 << 20 } });
  const error = await attacked.then(
    () => new Error("the attacked fetch succeeded"),
    (err: Error) => err,
  );
  expect(error).toBeInstanceOf(BudgetExceededError);
  expect(error.message).toContain(hostile.peerId);
  expect(error.message).toContain(`${1 << 20} bytes buffered`);
}, 60_000);

for (const mode of ["silent-auth", "silent"] as const) {
  test(`a peer that goes silent (${mode}) fails the client with the peer named; an honest fetch completes meanwhile`, async () => {
    const hostile = await startHostileServer({ seed: seed(47), listen: TCP, mode, root: toHex(new Uint8Array(32)), width: 0 });
    const host = await clientHost();
    const honest = await honestFetch(host, 48);
    const silent = (async () => {
      const client = await SyncClient.connect(host, hostile.addr, none, undefined, { idleMs: 500 });
      await client.heads();
    })();
    const [{ outcome }] = await Promise.all([withPeakRss(silent), honest()]);
    const error = rejection(outcome);
    expect(error).toBeInstanceOf(StalledPeerError);
    expect(error.message).toContain(hostile.peerId);
  }, 60_000);
}

test("a slow peer that keeps sending is not taken for a silent one: the deadline counts progress, not total time", async () => {
  // 16 bytes, one every 150 ms: 2.4 s in all, against an idle deadline of 600 ms.
  const slow = await startHostileServer({ seed: seed(52), listen: TCP, mode: "trickle", root: toHex(new Uint8Array(32)), width: 150 });
  const host = await clientHost();
  const client = await SyncClient.connect(host, slow.addr, none, undefined, { idleMs: 600 });
  expect(await client.getBlobs([new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)])).toEqual([null, null]);
  await client.close();
}, 60_000);

test("a sync node's client to a peer that never answers AUTH gives up on it and redials", async () => {
  const hostile = await startHostileServer({ seed: seed(53), listen: TCP, mode: "silent-auth", root: toHex(new Uint8Array(32)), width: 0 });
  const events: SyncEvent[] = [];
  const key = SigningKey.generate();
  const node = await SyncNode.start({
    store: new MemoryStore(),
    key,
    teamRoot: key.publicKey,
    credentials: none,
    policy: openPolicy,
    listen: TCP,
    peers: [hostile.addr.toString()],
    fetch: { idleMs: 300 },
    onEvent: (e) => events.push(e),
  });
  try {
    // The client's AUTH stalls, so it closes the connection; the node dials the given peer again.
    await until(() => events.filter((e) => e.type === "connected").length >= 2, 30_000);
    // One AUTH per connection: the second arrives once the second connection's client sent it.
    let auths = 0;
    for (let polls = 0; polls < 300 && auths < 2; polls++) {
      auths = (await hostile.stats()).requests;
      if (auths < 2) await Bun.sleep(50);
    }
    expect(auths).toBeGreaterThanOrEqual(2);
  } finally {
    await node.stop();
  }
}, 60_000);

test("pile net pull from a silent peer exits with an error naming it (AUTH answered or not)", async () => {
  const tmp = tempDir();
  try {
    const pile = tmp.path("victim.pile");
    const key = tmp.path("victim.key");
    await Bun.write(pile, new Uint8Array(0));
    expect((await attempt(tmp.dir, "pile", "net", "identity", "--key", key, "--create")).code).toBe(0);
    for (const [n, mode] of [
      [49, "silent-auth"],
      [50, "silent"],
    ] as const) {
      const hostile = await startHostileServer({ seed: seed(n), listen: TCP, mode, root: toHex(new Uint8Array(32)), width: 0 });
      const { code, err } = await attempt(tmp.dir, "pile", "net", "pull", pile, `${hostile.addr.toString()}`, "--key", key, "--idle-timeout", "0.5");
      expect(code).not.toBe(0);
      expect(err).toContain(hostile.peerId);
      expect(err).toContain("sent nothing for 500 ms");
      expect(err.trim().split("\n")).toHaveLength(1);
      hostile.kill();
    }
    const bad = await attempt(tmp.dir, "pile", "net", "pull", pile, "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGnJTo3CN65kbjriJFucXdwRaA24EMjaf4xxJCvdGYEkj", "--key", key, "--max-blobs", "0");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("--max-blobs must be a positive whole number");
  } finally {
    tmp.cleanup();
  }
}, 60_000);
