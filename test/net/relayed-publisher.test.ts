/**
 * A head relayed by a peer that does not merge it, from a publisher we never connected to, is
 * judged by the publisher's own capability chain, fetched from the relaying peer (pile-sync
 * CHAIN). In-process sync nodes on real TCP sockets (127.0.0.1), each with the CLI's TeamPolicy.
 * The publisher listens on nothing, so the receiver cannot reach it: only the chain lookup helps.
 */
import { afterEach, expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import type { RemoteHead } from "../../src/net/peer.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { Repository } from "../../src/repo/repository.ts";
import type { TrackingResult } from "../../src/repo/tracking.ts";
import { until } from "./fixtures/until.ts";

const root = SigningKey.generate();
const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

interface Side {
  node: SyncNode;
  key: SigningKey;
  store: MemoryStore;
  events: SyncEvent[];
  applied: { remote: RemoteHead; result: TrackingResult }[];
}

async function side(perm: "read" | "write", opts: { listen: string[]; peers?: string[]; dht?: boolean }): Promise<Side> {
  const key = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: key.publicKey, perms: [perm] });
  const store = new MemoryStore();
  const policy = new TeamPolicy(store, root.publicKey);
  const events: SyncEvent[] = [];
  const applied: Side["applied"] = [];
  const node = await SyncNode.start({
    store,
    key,
    teamRoot: root.publicKey,
    credentials: { capHandle: cap.sigHandle, chain: [cap.sigBlob, cap.blob] },
    policy,
    team: policy,
    listen: opts.listen,
    peers: opts.peers ?? [],
    ...(opts.dht === false ? { dht: false } : {}),
    republishMs: 1000,
    onEvent: (e) => events.push(e),
    peerEvents: { onApplied: (remote, result) => applied.push({ remote, result }) },
  });
  nodes.push(node);
  node.onDelivered(() => node.peer.refresh());
  return { node, key, store, events, applied };
}

const address = (s: Side) => s.node.host.getMultiaddrs().map(String)[0]!;

function commit(s: Side, message: string): Hash {
  const repo = new Repository(s.node.peer, s.key);
  repo.commit("main", new TribleSet(), message);
  return s.store.head(repo.requireBranch("main").id)!;
}

const appliedFrom = (s: Side, publisher: SigningKey, head: Hash) => s.applied.some((a) => bytesEqual(a.remote.publisher, publisher.publicKey) && bytesEqual(a.remote.head, head) && a.result.status === "applied");

test("a head relayed from a publisher we never connected to is admitted by the chain the relaying peer holds, and refused when that chain is read-only", async () => {
  const middle = await side("write", { listen: ["/ip4/127.0.0.1/tcp/0"] });
  const receiver = await side("write", { listen: ["/ip4/127.0.0.1/tcp/0"], peers: [address(middle)] });
  // Publishers that listen on nothing and run no DHT (which would dial peers it learns of): only
  // the middle peer ever talks to them.
  const publisher = await side("write", { listen: [], peers: [address(middle)], dht: false });
  const reader = await side("read", { listen: [], peers: [address(middle)], dht: false });
  await until(() => middle.node.pushPeers().length === 3);

  const head = commit(publisher, "relayed");
  await until(() => appliedFrom(receiver, publisher.key, head), 15_000);
  expect(receiver.node.host.getConnections(publisher.node.host.peerId)).toHaveLength(0);
  expect(receiver.events.some((e) => e.type === "auth" && bytesEqual(e.remoteKey, publisher.key.publicKey))).toBe(false);

  // A read-only member's head, relayed the same way, is refused, and the reason names it.
  const refused = commit(reader, "not allowed");
  const readerId = reader.node.host.peerId.toString();
  await until(() => receiver.events.some((e) => e.type === "gossip-dropped" && e.publisher === readerId), 15_000);
  const drop = receiver.events.find((e) => e.type === "gossip-dropped" && e.publisher === readerId);
  expect(drop?.type === "gossip-dropped" && drop.reason).toBe("its capability is read-only");
  expect(appliedFrom(receiver, reader.key, refused)).toBe(false);
}, 60_000);
