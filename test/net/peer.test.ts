/**
 * `Peer` through two in-process sync nodes on real TCP sockets (127.0.0.1): reads drain what the
 * network delivered into tracking branches, writes are published, tracking branches are never
 * re-published, `republishAll` re-sends, and a released Peer stops syncing its inner store.
 */
import { afterEach, expect, test } from "bun:test";
import { bytesEqual, toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { BranchId, Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import type { RemoteHead, SyncDirection } from "../../src/net/peer.ts";
import type { HeadGossip } from "../../src/net/gossip.ts";
import type { FetchQueue } from "../../src/net/node/fetch-queue.ts";
import { openPolicy, PROTOCOL_V5, type SyncServer } from "../../src/net/protocol.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { Repository } from "../../src/repo/repository.ts";
import type { TrackingResult } from "../../src/repo/tracking.ts";
import { until } from "./fixtures/until.ts";

const TCP = ["/ip4/127.0.0.1/tcp/0"];
const teamRoot = SigningKey.generate().publicKey;
const noCapability = { capHandle: new Uint8Array(32), chain: [] };

interface Side {
  node: SyncNode;
  key: SigningKey;
  store: MemoryStore;
  published: { branchId: BranchId; head: Hash }[];
  applied: { remote: RemoteHead; result: TrackingResult }[];
  events: SyncEvent[];
  /** Resolves when the next remote head's closure has been stored. */
  nextDelivery(): Promise<void>;
}

const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function side(peers: string[] = [], direction: SyncDirection = "bidirectional", progressEveryMs?: number): Promise<Side> {
  const key = SigningKey.generate();
  const store = new MemoryStore();
  const published: Side["published"] = [];
  const applied: Side["applied"] = [];
  const events: SyncEvent[] = [];
  const node = await SyncNode.start({
    store,
    key,
    teamRoot,
    credentials: { ...noCapability },
    policy: openPolicy,
    direction,
    listen: TCP,
    peers,
    onEvent: (event) => events.push(event),
    ...(progressEveryMs === undefined ? {} : { progressEveryMs }),
    peerEvents: {
      onPublished: (branchId, head) => published.push({ branchId, head }),
      onApplied: (remote, result) => applied.push({ remote, result }),
    },
  });
  nodes.push(node);
  let waiters: (() => void)[] = [];
  node.onDelivered(() => {
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  });
  const nextDelivery = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { node, key, store, published, applied, events, nextDelivery };
}

/** A node's gossip and fetch queue: their counters let tests wait on a condition instead of sleeping. */
const gossipOf = (side: Side) => (side.node as unknown as { gossip: HeadGossip }).gossip;
const queueOf = (side: Side) => (side.node as unknown as { queue: FetchQueue<unknown> }).queue;

const address = (s: Side) => s.node.host.getMultiaddrs().map(String)[0]!;

/** Two sides, B dialling A, once A sees the connection. */
async function connectedPair(): Promise<[Side, Side]> {
  const a = await side();
  const b = await side([address(a)]);
  await until(() => a.node.connectedPeers().length === 1);
  return [a, b];
}

test("reads drain delivered heads into tracking branches; writes publish; tracking branches are not re-published", async () => {
  const [a, b] = await connectedPair();
  const delivered = b.nextDelivery();
  const repoA = new Repository(a.node.peer, a.key);
  const commit = repoA.commit("main", new TribleSet(), "through the peer");
  // Creating the branch and pushing the commit each moved its head: both were published at once.
  const mainId = repoA.requireBranch("main").id;
  expect(a.published.length).toBeGreaterThan(0);
  expect(bytesEqual(a.published.at(-1)!.head, a.store.head(mainId)!)).toBe(true);
  await delivered;

  // Nothing is applied until something reads through B's Peer.
  expect(b.applied).toHaveLength(0);
  expect(b.node.peer.lastEventAt).toBeNull();
  let branches = new Repository(b.node.peer).listBranches();
  expect(b.applied.length).toBeGreaterThan(0);
  expect(b.applied[0]!.result.status).toBe("applied");
  expect(b.node.peer.lastEventAt).not.toBeNull();
  // The branch's creation and its commit may arrive as two heads: read until the commit is there.
  await until(() => {
    branches = new Repository(b.node.peer).listBranches();
    const head = branches.find((x) => x.tracking)?.meta.head;
    return head !== undefined && bytesEqual(head, commit);
  });
  const tracking = branches.filter((x) => x.tracking);
  expect(tracking).toHaveLength(1);
  expect(tracking[0]!.name).toBe("main");
  expect(bytesEqual(tracking[0]!.meta.head!, commit)).toBe(true);
  // B's tracking branch moved in B's store, but B never gossips it back.
  expect(b.published).toHaveLength(0);
  expect(b.store.reader().has(commit)).toBe(true);

  b.node.peer.republishAll();
  expect(b.published).toHaveLength(0);
  const before = a.published.length;
  a.node.peer.republishAll();
  expect(a.published).toHaveLength(before + 1);
}, 30_000);

test("a released Peer hands back its store and no longer applies what arrives", async () => {
  const [a, b] = await connectedPair();
  const repoA = new Repository(a.node.peer, a.key);

  const first = repoA.commit("main", new TribleSet(), "first");
  const trackingHead = () => new Repository(b.store).listBranches().find((x) => x.tracking)?.meta.head;
  await until(() => {
    b.node.peer.branches();
    const head = trackingHead();
    return head !== undefined && bytesEqual(head, first);
  });
  const appliedBefore = b.applied.length;

  const inner = b.node.peer.release();
  expect(inner).toBe(b.store);
  const second = repoA.commit("main", new TribleSet(), "second");
  await until(() => b.store.reader().has(second));
  // The blobs arrived in the store, but the released Peer moves no tracking branch on reads.
  b.node.peer.branches();
  expect(b.applied).toHaveLength(appliedBefore);
  expect(bytesEqual(trackingHead()!, first)).toBe(true);
}, 30_000);

test("readonly never publishes; writeonly never applies", async () => {
  const a = await side();
  const reader = await side([address(a)], "readonly");
  const writer = await side([address(a)], "writeonly");
  await until(() => a.node.connectedPeers().length === 2);

  const delivered = reader.nextDelivery();
  new Repository(a.node.peer, a.key).commit("main", new TribleSet(), "from a");
  await delivered;
  reader.node.peer.branches();
  writer.node.peer.branches();
  // A head that arrives both pushed and gossiped is applied once; its second delivery is "unchanged".
  expect(reader.applied.map((x) => x.result.status).filter((status) => status !== "unchanged")).toEqual(["applied"]);

  new Repository(reader.node.peer, reader.key).commit("mine", new TribleSet(), "kept local");
  new Repository(writer.node.peer, writer.key).commit("theirs", new TribleSet(), "published");
  expect(reader.published).toHaveLength(0);
  expect(writer.published.length).toBeGreaterThan(0);
  await until(() => {
    a.node.peer.branches();
    return a.applied.some((x) => x.result.status === "applied" && x.result.name === "theirs");
  });
  // The writeonly side did hear A's head (and drops it): its "never applies" below is not vacuous.
  await until(() => gossipOf(writer).accepted > 0);
  a.node.peer.branches();
  writer.node.peer.branches();
  const namesAtA = new Set(a.applied.map((x) => (x.result.status === "rejected" ? "(rejected)" : x.result.name)));
  expect([...namesAtA]).toEqual(["theirs"]);
  expect(writer.applied).toHaveLength(0);
  expect(new Repository(writer.store).listBranches().filter((x) => x.tracking)).toHaveLength(0);
}, 30_000);

test("after a peer disconnects and reconnects, its heads are fetched over the new connection", async () => {
  const [a, b] = await connectedPair();
  const repoA = new Repository(a.node.peer, a.key);
  const first = repoA.commit("main", new TribleSet(), "first");
  await until(() => b.store.reader().has(first));

  // The connection drops (a laptop sleeps, a network changes) and comes back.
  const welcomedBefore = gossipOf(a).welcomes.seen;
  await b.node.host.hangUp(a.node.host.peerId);
  await until(() => b.node.connectedPeers().length === 0);
  await b.node.host.dial(a.node.host.getMultiaddrs()[0]!);
  await until(() => a.node.connectedPeers().length === 1 && b.node.connectedPeers().length === 1);
  // A welcomes B back on the gossip topic (re-sending its heads) once the mesh formed again.
  await until(() => gossipOf(a).welcomes.seen > welcomedBefore);

  const second = repoA.commit("main", new TribleSet(), "second");
  await until(() => b.store.reader().has(second));
  // Every fetch used a live connection: none failed on a client left over from the first one.
  expect(b.events.filter((e) => e.type === "fetch-failed")).toEqual([]);
}, 30_000);

test("a fetch that fails while the peer's sync service is down is retried without new gossip", async () => {
  const [a, b] = await connectedPair();
  // Past the re-sends of heads that follow a new subscription (gossip.ts \`welcome\`), so only a
  // retry can fetch the head again.
  const welcomesDone = (side: Side) => gossipOf(side).welcomes.seen > 0 && gossipOf(side).welcomes.pending === 0;
  await until(() => welcomesDone(a) && welcomesDone(b), 10_000);

  // A's sync service goes away (its open sync streams with it); gossip still flows.
  const server = (a.node as unknown as { server: SyncServer }).server;
  await server.stop();
  for (const conn of a.node.host.getConnections()) for (const stream of conn.streams) if (stream.protocol === PROTOCOL_V5) stream.abort(new Error("service restarting"));
  const head = new Repository(a.node.peer, a.key).commit("main", new TribleSet(), "while the service is down");
  await until(() => b.events.some((e) => e.type === "fetch-failed"));
  await server.start();
  await until(() => b.store.reader().has(head), 8_000);
  expect(b.events.some((e) => e.type === "fetched")).toBe(true);
  const failed = b.events.find((e) => e.type === "fetch-failed");
  expect(failed).toMatchObject({ type: "fetch-failed", retryInMs: 250 });
}, 30_000);

test("a long fetch reports its progress; a shorter one stays quiet", async () => {
  const a = await side();
  const eager = await side([address(a)], "bidirectional", 0); // reports at every step
  // Reports only fetches longer than a minute: far beyond this test's own bound, so the fetch is
  // "short" however busy the machine is (the default, one second, is not on a loaded machine).
  const quiet = await side([address(a)], "bidirectional", 60_000);
  await until(() => a.node.connectedPeers().length === 2);
  const repoA = new Repository(a.node.peer, a.key);
  // About 1.5 MB: over the one-request closure's budget, so the fetch goes level by level.
  const blobs = Array.from({ length: 3000 }, (_, i) => new TextEncoder().encode(`blob ${i} `.repeat(50)));
  const hashes = a.node.peer.putMany(blobs);
  const content = new TribleSet();
  const attr = new Uint8Array(16).fill(7);
  for (const h of hashes) content.add(crypto.getRandomValues(new Uint8Array(16)), attr, h);
  repoA.commit("main", content, "many blobs");
  await until(() => [eager, quiet].every((s) => s.events.some((e) => e.type === "fetched" && e.summary.blobs > 3000)), 20_000);

  // The big commit's fetch (the branch's creation may arrive as a fetch of its own).
  const big = eager.events.find((e) => e.type === "fetched" && e.summary.blobs > 3000)!;
  const bigHead = big.type === "fetched" ? big.head : "";
  const progress = eager.events.flatMap((e) => (e.type === "fetch-progress" && e.head === bigHead ? [e] : []));
  expect(progress.length).toBeGreaterThan(2);
  const stored = progress.map((e) => e.progress.stored);
  expect(stored).toEqual([...stored].sort((x, y) => x - y)); // never goes back
  expect(Math.max(...stored)).toBeGreaterThan(0);
  expect(progress.every((e) => e.progress.stored <= e.progress.discovered && e.ms >= 0)).toBe(true);
  expect(quiet.events.some((e) => e.type === "fetch-progress")).toBe(false);
}, 30_000);

test("stopping a node mid-fetch neither reports the fetch as failed nor retries it", async () => {
  const a = await side();
  const b = await side([address(a)], "bidirectional", 0); // reports progress at every step
  await until(() => a.node.connectedPeers().length === 1);
  // About 1.5 MB: over the one-request closure's budget, so the fetch goes level by level.
  const blobs = Array.from({ length: 3000 }, (_, i) => new TextEncoder().encode(`blob ${i} `.repeat(50)));
  const content = new TribleSet();
  const attr = new Uint8Array(16).fill(7);
  for (const h of a.node.peer.putMany(blobs)) content.add(crypto.getRandomValues(new Uint8Array(16)), attr, h);
  new Repository(a.node.peer, a.key).commit("main", content, "many blobs");
  await until(() => b.events.some((e) => e.type === "fetch-progress"), 20_000);

  nodes.splice(nodes.indexOf(b.node), 1);
  await b.node.stop(); // as Ctrl-C does, while the fetch is running
  const atStop = b.events.length;
  // The fetch loop ends; no retry is left scheduled to run it again.
  await until(() => queueOf(b).activity.running === 0);
  expect(queueOf(b).activity.retriesScheduled).toBe(0);
  expect(b.events.slice(atStop)).toEqual([]);
  expect(b.events.some((e) => e.type === "fetch-failed")).toBe(false);
}, 30_000);

test("a commit on top of a mirrored head arrives in one request, without what the receiver holds", async () => {
  const [a, b] = await connectedPair();
  const repoA = new Repository(a.node.peer, a.key);
  const attr = new Uint8Array(16).fill(9);
  // About 700 KB a commit: one fits the one-request closure's budget, two do not.
  const commitBlobs = (salt: string) => {
    const content = new TribleSet();
    for (const h of a.node.peer.putMany(Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`${salt} ${i} `.repeat(700))))) {
      content.add(crypto.getRandomValues(new Uint8Array(16)), attr, h);
    }
    return repoA.commit("main", content, salt);
  };
  const first = commitBlobs("first");
  await until(() => {
    const head = new Repository(b.node.peer).listBranches().find((x) => x.tracking)?.meta.head;
    return head !== undefined && bytesEqual(head, first);
  });
  const second = commitBlobs("second");
  const meta = toHex(a.store.head(repoA.requireBranch("main").id)!);
  await until(() => b.events.some((e) => e.type === "fetched" && e.head === meta));
  const fetched = b.events.find((e) => e.type === "fetched" && e.head === meta);
  // One request: the server left out the first commit's closure (the tracking branch names that
  // commit), else the closure would have exceeded the budget and the fetch gone level by level.
  expect(fetched?.type === "fetched" && fetched.summary).toMatchObject({ requests: 1, depth: 0 });
  expect(b.store.reader().has(second)).toBe(true);
}, 30_000);
