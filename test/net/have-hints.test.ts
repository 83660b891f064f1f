/**
 * Have-hints of the one-request closure (node/head-fetch.ts): a peer's head that adopts one of our
 * own commits (a fast-forward merge) must cost its metadata blob, not that commit's content sent
 * back to us. Two in-process sync nodes of one team on real TCP sockets (127.0.0.1).
 */
import { afterEach, expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import type { FetchSummary } from "../../src/net/fetch.ts";
import type { SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { Repository } from "../../src/repo/repository.ts";
import { findTrackingBranch } from "../../src/repo/tracking.ts";
import { startTeamNode } from "./fixtures/team-node.ts";
import { until } from "./fixtures/until.ts";

const root = SigningKey.generate();
const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

function member() {
  const key = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: key.publicKey, perms: ["write"] });
  return { key, credentials: { capHandle: cap.sigHandle, chain: [cap.blob, cap.sigBlob] } };
}

async function start(store: MemoryStore, who: ReturnType<typeof member>, peers: string[], events: SyncEvent[]): Promise<SyncNode> {
  const { node } = await startTeamNode({ store, key: who.key, teamRoot: root.publicKey, credentials: who.credentials, peers, events });
  nodes.push(node);
  return node;
}

test("a peer's head that adopted our previous commit is fetched without that commit's content", async () => {
  const [alice, bob] = [member(), member()];
  // Alice commits 100 × 1 KiB, then commits again on top.
  const aliceStore = new MemoryStore();
  const aliceRepo = new Repository(aliceStore, alice.key);
  const blobs = Array.from({ length: 100 }, (_, i) => new Uint8Array(1024).fill(i + 1));
  const content = new TribleSet();
  const attr = new Uint8Array(16).fill(0x5b);
  for (const h of aliceStore.putMany(blobs)) content.add(genId(), attr, h);
  const adopted = aliceRepo.commit("main", content, "100 blobs");
  const branchId = aliceRepo.requireBranch("main").id;
  aliceRepo.commit("main", new TribleSet(), "on top");

  // Bob holds everything Alice has and points his "main" (same id) at her first commit, as a
  // fast-forward merge of her head would, before her second commit reached him.
  const bobStore = new MemoryStore();
  const reader = aliceStore.reader();
  for (const h of reader.list()) bobStore.put(reader.get(h)!);
  const aliceEvents: SyncEvent[] = [];
  const aliceNode = await start(aliceStore, alice, [], aliceEvents);
  const bobNode = await start(bobStore, bob, [aliceNode.host.getMultiaddrs().map(String)[0]!], []);
  // Through Bob's Peer, so the new branch is published at once.
  new Repository(bobNode.peer, bob.key).createBranch("main", adopted, branchId);

  const fromBob = () => aliceEvents.flatMap((e) => (e.type === "fetched" && e.publisher !== aliceNode.host.peerId.toString() ? [e.summary] : [])) as FetchSummary[];
  await until(() => fromBob().length > 0, 20_000);
  await until(() => findTrackingBranch(new Repository(aliceStore), bob.key.publicKey, branchId)?.meta.head !== undefined, 20_000);
  const tracking = findTrackingBranch(new Repository(aliceStore), bob.key.publicKey, branchId)!;
  expect(bytesEqual(tracking.meta.head!, adopted)).toBe(true);
  // Bob's branch metadata is all Alice lacked; the 100 KiB under the adopted commit stay home.
  const summary = fromBob()[0]!;
  expect(summary.redundantBytes).toBeLessThan(4096);
  expect(summary.bytes).toBeLessThan(4096);
}, 60_000);
