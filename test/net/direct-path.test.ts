/**
 * A peer reached through a relay that becomes reachable directly without hole punching (here we
 * dial an address of it we learned): the fetch running over the relay moves to the direct
 * connection, and the relayed connection is closed once nothing uses it. In-process sync nodes
 * and a relay, real libp2p hosts on 127.0.0.1 (no NAT here, so no hole punching: the direct
 * connection is our own dial).
 *
 * The relay cuts each relayed connection after RELAY_MIB; the commit is BULK_MIB, far more. The
 * direct dial is made once the fetch runs over the relay (its first progress report). A fetch that stayed
 * on the relayed connection would be cut by the relay ("fetch-failed", then retried); one that
 * moved never fails, and the relay carried less than its limit.
 */
import { afterEach, expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { IdentifyResult, PeerId } from "@libp2p/interface";
import { type Credentials, SyncClient } from "../../src/net/client.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { connectionPath, Reach, type ReachEvent } from "../../src/net/relay.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { commitFileChanges } from "../../src/repo/file-commit.ts";
import { Repository } from "../../src/repo/repository.ts";
import { until } from "./fixtures/until.ts";

const RELAY_MIB = 20;
const BULK_MIB = 40;

const root = SigningKey.generate();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relayHost(): Promise<Host> {
  const relay = await createHost({
    key: SigningKey.generate(),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    dht: false,
    reach: { relayServer: { admit: async () => true, limits: { dataBytes: RELAY_MIB << 20 } } },
  });
  cleanups.push(() => relay.stop());
  return relay;
}

async function member(opts: { peers?: string[]; relays?: string[]; onEvent: (e: SyncEvent) => void }): Promise<{ node: SyncNode; key: SigningKey; store: MemoryStore; credentials: Credentials }> {
  const key = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: key.publicKey, perms: ["write"] });
  const store = new MemoryStore();
  const policy = new TeamPolicy(store, root.publicKey);
  const credentials = { capHandle: cap.sigHandle, chain: [cap.sigBlob, cap.blob] };
  const node = await SyncNode.start({
    store,
    key,
    teamRoot: root.publicKey,
    credentials,
    policy,
    team: policy,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    peers: opts.peers ?? [],
    dht: false,
    reach: { relays: opts.relays ?? [] },
    // Stalls are not what this test is about: only the relay's cut may end a relayed fetch.
    fetch: { idleMs: 120_000 },
    progressEveryMs: 0,
    onEvent: opts.onEvent,
  });
  cleanups.push(() => node.stop());
  node.onDelivered(() => node.peer.refresh());
  return { node, key, store, credentials };
}

/** A relay on 127.0.0.1 and member A holding a reservation on it; A's direct address for a later dial. */
async function memberHoldingReservation() {
  const relay = await relayHost();
  const relayAddr = relay.getMultiaddrs().map(String)[0]!;
  const aEvents: (SyncEvent | ReachEvent)[] = [];
  const a = await member({ relays: [relayAddr], onEvent: (e) => aEvents.push(e) });
  const reach = Reach.start(a.node.host, { relays: [relayAddr] }, (e) => aEvents.push(e));
  cleanups.push(() => reach.stop());
  await until(() => aEvents.some((e) => e.type === "reservation" && e.ok), 20_000);
  const aDirect = a.node.host.getMultiaddrs().find((m) => !m.toString().includes("/p2p-circuit"))!;
  return { relayAddr, a, aId: a.node.host.peerId, aDirect };
}

test("a fetch running over a relay moves to a direct connection that opens later, and the relayed connection is closed", async () => {
  const { relayAddr, a, aId, aDirect } = await memberHoldingReservation();


  const bEvents: SyncEvent[] = [];
  let dialled: Promise<unknown> | undefined;
  let b: Awaited<ReturnType<typeof member>> | undefined;
  const onB = (e: SyncEvent) => {
    bEvents.push(e);
    // The fetch runs over the relay (its first level discovered there): now we learn of a direct
    // address and dial it. (The relay counts bytes as it receives them from the sender, ahead of
    // what arrives: by the first MiB stored here, it may have taken in its whole limit.)
    if (e.type === "fetch-progress" && !dialled) dialled = b!.node.host.dial(aDirect);
  };
  b = await member({ peers: [`${relayAddr}/p2p-circuit/p2p/${aId}`], onEvent: onB });
  const paths = () => b!.node.host.getConnections(aId).map((c) => connectionPath(c).path);
  expect(paths()).toEqual(["relayed"]);
  await until(() => b!.node.pushPeers().includes(aId.toString()) && a.node.pushPeers().includes(b!.node.host.peerId.toString()), 20_000);

  const random = new Uint8Array(BULK_MIB << 20);
  for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
  const { commit } = commitFileChanges(new Repository(a.node.peer, a.key), "main", [{ kind: "put", path: "bulk.bin", bytes: random }], "bulk");

  // The commit arrives whole although the relay would have cut a relayed fetch after RELAY_MIB.
  // (Blobs are stored children first: the commit stored means its whole closure is.)
  await until(() => b!.store.reader().has(commit), 60_000);
  expect(dialled).toBeDefined();
  await dialled;
  expect(bEvents.filter((e) => e.type === "fetch-failed")).toEqual([]);

  // Nothing uses the relayed connection any more: both sides closed it, and the direct one stays.
  await until(() => paths().every((p) => p === "direct") && a.node.host.getConnections(b!.node.host.peerId).every((c) => connectionPath(c).path === "direct"), 20_000);
  expect(paths()).toEqual(["direct"]);
}, 90_000);

test("a relayed connection still in use stays open until its last pile-sync stream closes; gossip then runs on the direct one", async () => {
  const { relayAddr, a, aId, aDirect } = await memberHoldingReservation();
  const b = await member({ peers: [`${relayAddr}/p2p-circuit/p2p/${aId}`], onEvent: () => {} });
  const bId = b.node.host.peerId;
  await until(() => b.node.pushPeers().includes(aId.toString()) && a.node.pushPeers().includes(bId.toString()), 20_000);
  const pubsub = (n: SyncNode) => n.host.services.pubsub as unknown as { streamsOutbound: ReadonlyMap<string, unknown> };
  await until(() => pubsub(a.node).streamsOutbound.has(bId.toString()) && pubsub(b.node).streamsOutbound.has(aId.toString()), 20_000);

  // A client of B's on the relayed connection (the only one open), outside the node's cache, as an
  // older peer's would be: it keeps an authenticated pile-sync stream open there.
  const relayedOf = (n: SyncNode, peer: PeerId) => n.host.getConnections(peer).filter((c) => connectionPath(c).path === "relayed");
  const [relayed] = relayedOf(b.node, aId);
  expect(relayed).toBeDefined();
  const kept = await SyncClient.connect(b.node.host, aId, b.credentials);
  expect(kept.relayed).toBe(true);

  const identified = new Promise<void>((resolve) => {
    const onIdentify = (evt: CustomEvent<IdentifyResult>) => {
      if (evt.detail.peerId.equals(aId) && connectionPath(evt.detail.connection).path === "direct") {
        b.node.host.removeEventListener("peer:identify", onIdentify);
        resolve();
      }
    };
    b.node.host.addEventListener("peer:identify", onIdentify);
  });
  await b.node.host.dial(aDirect);
  await identified;
  // Still in use: the relayed connection stays.
  expect(relayed!.status).toBe("open");
  await kept.close();
  await until(() => relayedOf(b.node, aId).length === 0 && relayedOf(a.node, bId).length === 0, 20_000);
  // gossipsub, one outbound stream per peer, had it on the relayed connection: one opens on the direct one.
  await until(() => pubsub(a.node).streamsOutbound.has(bId.toString()) && pubsub(b.node).streamsOutbound.has(aId.toString()), 20_000);
}, 60_000);
