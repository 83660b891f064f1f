/**
 * PUSH_HEAD (pile-sync v5, 0x16): a publisher hands each connected peer its new head directly, on
 * top of gossip. In-process sync nodes of one team on real TCP sockets (127.0.0.1), each with the
 * CLI's policy (TeamPolicy: read to connect, write to be admitted as a publisher).
 */
import { afterEach, expect, test } from "bun:test";
import type { Stream } from "@libp2p/interface";
import { issueCapability } from "../../src/auth/capability.ts";
import { bytesEqual, toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { encodeHeadFrame } from "../../src/net/gossip.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import type { RemoteHead } from "../../src/net/peer.ts";
import { AUTH_OK, OP_AUTH, OP_PUSH_HEAD, PROTOCOL_V5, PUSH_REFUSED } from "../../src/net/protocol.ts";
import { StreamReader, u32 } from "../../src/net/stream-io.ts";
import type { SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { Repository } from "../../src/repo/repository.ts";
import type { TrackingResult } from "../../src/repo/tracking.ts";
import { startTeamNode } from "./fixtures/team-node.ts";
import { until } from "./fixtures/until.ts";

const root = SigningKey.generate();

/** A team member: its key and capability (blobs included, so a peer can verify it on AUTH). */
function member(perm: "read" | "write") {
  const key = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: key.publicKey, perms: [perm] });
  return { key, credentials: { capHandle: cap.sigHandle, chain: [cap.blob, cap.sigBlob] } };
}

interface Side {
  node: SyncNode;
  key: SigningKey;
  store: MemoryStore;
  events: SyncEvent[];
  applied: { remote: RemoteHead; result: TrackingResult }[];
}

const nodes: SyncNode[] = [];
const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function side(who: ReturnType<typeof member>, opts: { peers?: string[]; withoutOps?: number[] } = {}): Promise<Side> {
  const store = new MemoryStore();
  const events: SyncEvent[] = [];
  const applied: Side["applied"] = [];
  const { node } = await startTeamNode({
    store,
    key: who.key,
    teamRoot: root.publicKey,
    credentials: who.credentials,
    peers: opts.peers ?? [],
    events,
    more: {
      // Gossip re-sends each head every second, so "the same head later by gossip" comes soon.
      republishMs: 1000,
      peerEvents: { onApplied: (remote, result) => applied.push({ remote, result }) },
      ...(opts.withoutOps ? { server: { withoutOps: opts.withoutOps } } : {}),
    },
  });
  nodes.push(node);
  return { node, key: who.key, store, events, applied };
}

const address = (s: Side) => s.node.host.getMultiaddrs().map(String)[0]!;
const peerIdOf = (s: Side) => s.node.host.peerId.toString();

/** `receiver` dials `publisher`; resolves once the publisher has authenticated to the receiver (it then pushes). */
async function connect(publisher: Side, receiverOf: (peers: string[]) => Promise<Side>): Promise<Side> {
  const receiver = await receiverOf([address(publisher)]);
  await until(() => publisher.node.pushPeers().includes(peerIdOf(receiver)));
  return receiver;
}

/** Commits on `s` through its Peer (which publishes at once); returns the branch's new metadata handle. */
function commit(s: Side, message: string): Hash {
  const repo = new Repository(s.node.peer, s.key);
  repo.commit("main", new TribleSet(), message);
  return s.store.head(repo.requireBranch("main").id)!;
}

const pushes = (s: Side, head: Hash) => s.events.flatMap((e) => (e.type === "head-pushed" && e.head === toHex(head) ? [e.result] : []));
const fetchesOf = (s: Side, head: Hash) => s.events.filter((e) => e.type === "fetched" && e.head === toHex(head)).length;
const resultsFor = (s: Side, head: Hash) => s.applied.filter((a) => bytesEqual(a.remote.head, head)).map((a) => a.result.status);

test("a pushed head is accepted and applied; the same head by gossip afterwards is unchanged, not fetched again", async () => {
  const a = await side(member("write"));
  const b = await connect(a, (peers) => side(member("write"), { peers }));
  const head = commit(a, "pushed");
  await until(() => pushes(a, head).length > 0);
  expect(pushes(a, head)).toEqual(["accepted"]);
  await until(() => resultsFor(b, head).includes("applied"));
  // Gossip (re-sent every second) brings the same head again: delivered from the store, no fetch.
  await until(() => resultsFor(b, head).includes("unchanged"));
  expect(resultsFor(b, head)[0]).toBe("applied");
  expect(fetchesOf(b, head)).toBe(1);
}, 30_000);

test("a push from a read-only member is refused and its head never fetched", async () => {
  const reader = await side(member("read"));
  const b = await connect(reader, (peers) => side(member("write"), { peers }));
  const head = commit(reader, "not allowed");
  await until(() => pushes(reader, head).length > 0);
  expect(pushes(reader, head)).toEqual(["refused"]);
  // Its gossip is dropped by the same admission.
  await until(() => b.events.some((e) => e.type === "gossip-dropped"));
  expect(fetchesOf(b, head)).toBe(0);
  expect(b.applied).toHaveLength(0);
}, 30_000);

/** A bare host's v5 stream to `s`, with a function that sends bytes and reads the one-byte reply. */
async function rawStream(from: Host, to: Side) {
  const connection = await from.dial(to.node.host.getMultiaddrs()[0]!);
  const open = async () => {
    const stream: Stream = await connection.newStream(PROTOCOL_V5);
    const reader = new StreamReader(stream);
    return {
      reader,
      ask: async (bytes: Uint8Array) => {
        stream.send(bytes);
        return reader.readU8();
      },
    };
  };
  return { open };
}

const pushFrame = (publisher: Uint8Array, head = new Uint8Array(32).fill(7)) =>
  new Uint8Array([OP_PUSH_HEAD, ...encodeHeadFrame({ branchId: new Uint8Array(16).fill(3), head, publisher })]);

test("a push is refused without a successful AUTH, or naming another publisher; a malformed one aborts only its stream", async () => {
  const b = await side(member("write"));
  const stranger = SigningKey.generate();
  const host = await createHost({ key: stranger, listen: [], dht: false });
  hosts.push(host);
  const raw = await rawStream(host, b);
  const first = await raw.open();
  expect(await first.ask(pushFrame(stranger.publicKey))).toBe(PUSH_REFUSED);
  const noCapability = new Uint8Array([OP_AUTH, ...new Uint8Array(32), ...u32(0)]);
  // v5 says why: "no capability" (0x07), then the 8-byte instant (none: zero).
  expect(await first.ask(noCapability)).toBe(0x07);
  expect([...(await first.reader.readExactly(8))]).toEqual(new Array(8).fill(0));
  expect(await first.ask(pushFrame(stranger.publicKey))).toBe(PUSH_REFUSED);

  // A write member's connection: AUTH succeeds, but a frame naming someone else is refused.
  const writer = member("write");
  const writerHost = await createHost({ key: writer.key, listen: [], dht: false });
  hosts.push(writerHost);
  const authed = await (await rawStream(writerHost, b)).open();
  const auth = [OP_AUTH, ...writer.credentials.capHandle, ...u32(2)];
  for (const blob of writer.credentials.chain) auth.push(...u32(blob.length), ...blob);
  expect(await authed.ask(new Uint8Array(auth))).toBe(AUTH_OK);
  expect(await authed.ask(pushFrame(root.publicKey))).toBe(PUSH_REFUSED);

  // Not a HEAD frame (wrong tag): that stream is aborted, the connection's grant serves a new one.
  const bad = pushFrame(writer.key.publicKey);
  bad[1] = 0x02;
  await expect(authed.ask(bad)).rejects.toThrow();
  const again = await (await rawStream(writerHost, b)).open();
  expect(await again.ask(pushFrame(root.publicKey))).toBe(PUSH_REFUSED);
  expect(b.events.some((e) => e.type === "fetched")).toBe(false);
}, 30_000);

test("a peer whose server predates PUSH_HEAD still gets the head by gossip; the publisher stops pushing to it", async () => {
  const a = await side(member("write"));
  const older = await connect(a, (peers) => side(member("write"), { peers, withoutOps: [OP_PUSH_HEAD] }));
  const head = commit(a, "gossiped");
  await until(() => resultsFor(older, head).includes("applied"));
  // The branch's creation was its first head: that push failed, and ended pushing to this peer.
  const pushResults = () => a.events.flatMap((e) => (e.type === "head-pushed" ? [e.result] : []));
  await until(() => pushResults().length > 0 && a.node.pushPeers().length === 0);
  const results = pushResults();
  expect(new Set(results)).toEqual(new Set(["failed"]));
  expect(a.node.pushPeers()).toEqual([]);
  expect(fetchesOf(older, head)).toBe(1);
  // Later heads are not pushed to it at all.
  const before = results.length;
  const next = commit(a, "gossiped again");
  await until(() => resultsFor(older, next).includes("applied"));
  expect(a.events.filter((e) => e.type === "head-pushed")).toHaveLength(before);
}, 30_000);
