/**
 * A member whose pile lacks its own capability chain, given only a peer that lacks it too, is
 * refused there; the refusal makes it ask the DHT for more of the team, it meets a peer that
 * holds its chain, takes the chain from it, and the first peer then accepts it. In-process sync
 * nodes on real TCP sockets (127.0.0.1), each with the CLI's TeamPolicy.
 */
import { afterEach, expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Credentials } from "../../src/net/client.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { until } from "./fixtures/until.ts";

const root = SigningKey.generate();
const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function member(store: MemoryStore, key: SigningKey, credentials: Credentials, peers: string[], events: SyncEvent[] = []): Promise<SyncNode> {
  const policy = new TeamPolicy(store, root.publicKey);
  const node = await SyncNode.start({
    store,
    key,
    teamRoot: root.publicKey,
    credentials,
    policy,
    team: policy,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    peers,
    onEvent: (e) => events.push(e),
  });
  nodes.push(node);
  return node;
}

const tcpAddr = (node: SyncNode) => node.host.getMultiaddrs().map(String).find((a) => a.includes("/tcp/"))!;

test("a refusal for our missing chain makes us search the team; a peer holding the chain gives it, and the refusing peer then accepts us", async () => {
  const keys = { a: SigningKey.generate(), b: SigningKey.generate(), c: SigningKey.generate() };
  const caps = Object.fromEntries(Object.entries(keys).map(([n, k]) => [n, issueCapability({ issuer: root, subject: k.publicKey, perms: ["write"] })]));
  const full = (n: string): Credentials => ({ capHandle: caps[n]!.sigHandle, chain: [caps[n]!.sigBlob, caps[n]!.blob] });
  // A holds B's chain (as the issuer's pile does); C and B do not.
  const aStore = new MemoryStore();
  aStore.put(caps.b!.sigBlob);
  aStore.put(caps.b!.blob);
  const a = await member(aStore, keys.a, full("a"), []);
  const cEvents: SyncEvent[] = [];
  const c = await member(new MemoryStore(), keys.c, full("c"), [tcpAddr(a)], cEvents);
  const bCredentials: Credentials = { capHandle: caps.b!.sigHandle, chain: [] };
  const bEvents: SyncEvent[] = [];
  const b = await member(new MemoryStore(), keys.b, bCredentials, [tcpAddr(c)], bEvents);

  await until(() => bEvents.some((e) => e.type === "refused-by" && e.peer === c.host.peerId.toString()), 20_000);
  // B meets A, is accepted, and holds its chain now.
  await until(() => bCredentials.chain.length > 0, 40_000);
  expect(bCredentials.chain.length).toBe(2);
  expect(b.teamSearch.searches).toBeGreaterThan(0);
  // Asked again with the chain, C accepts B.
  const bPeer = b.host.peerId.toString();
  await until(() => cEvents.some((e) => e.type === "auth" && e.peer === bPeer && e.accepted), 30_000);
}, 120_000);
