/**
 * Proof of possession inside a running sync: in-process nodes on real TCP sockets (127.0.0.1) with
 * the CLI's policy (TeamPolicy), a receiver that does not merge, and a publisher whose write
 * capability covers one branch.
 */
import { afterEach, expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId, type Id } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import type { SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { Repository } from "../../src/repo/repository.ts";
import { startTeamNode } from "./fixtures/team-node.ts";
import { until } from "./fixtures/until.ts";

const root = SigningKey.generate();
const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function side(branches: Id[], peers: string[] = []) {
  const key = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: key.publicKey, perms: ["write"], branches });
  const store = new MemoryStore();
  const events: SyncEvent[] = [];
  const { node } = await startTeamNode({ store, key, teamRoot: root.publicKey, credentials: { capHandle: cap.sigHandle, chain: [cap.blob, cap.sigBlob] }, peers, events });
  nodes.push(node);
  return { node, key, store, events };
}

const fetched = (events: SyncEvent[], head: Hash) => events.find((e): e is Extract<SyncEvent, { type: "fetched" }> => e.type === "fetched" && e.head === toHex(head));

test("a branch-limited publisher's next head is not made to prove the history its tracking branch already holds", async () => {
  const x = genId();
  const publisher = await side([x]);
  const receiver = await side([], [publisher.node.host.getMultiaddrs().map(String)[0]!]);
  await until(() => publisher.node.pushPeers().includes(receiver.node.host.peerId.toString()));
  // Both hold the team's branch x under one id; the receiver never merges (a bare Peer).
  new Repository(receiver.store, receiver.key).createBranch("x", undefined, x);
  const repo = new Repository(publisher.node.peer, publisher.key);
  repo.createBranch("x", undefined, x);
  const heads: Hash[] = [];
  for (const message of ["first", "second"]) {
    repo.commit("x", new TribleSet(), message);
    heads.push(publisher.store.head(x)!);
    await until(() => fetched(receiver.events, heads.at(-1)!) !== undefined);
  }
  // The first head is all new; the second's parent is held (in the tracking branch only, outside
  // the publisher's read scope here), yet nothing had to be proven again.
  expect(heads.map((h) => fetched(receiver.events, h)!.proven)).toEqual([0, 0]);
  expect(receiver.events.some((e) => e.type === "head-refused")).toBe(false);
}, 30_000);
