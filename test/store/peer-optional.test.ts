/** Peer's pass-through of the optional store methods: what it adds beyond the wrapped store's. */
import { expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { shortStringValue } from "../../src/core/schemas.ts";
import type { BranchId, Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { Peer, type PeerNetwork, type RemoteHead } from "../../src/net/peer.ts";
import { Repository } from "../../src/repo/repository.ts";

/** A network that hands over what a test queued and records what the Peer publishes. */
function recordingNetwork() {
  const queued: RemoteHead[] = [];
  const published: { branchId: BranchId; head: Hash }[] = [];
  const net: PeerNetwork = {
    takeDelivered: () => queued.splice(0),
    publishHead: (branchId, head) => published.push({ branchId, head }),
    announce() {},
  };
  return { net, queued, published };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("a branch moved under Peer's withExclusiveLock, even through the wrapped store, is published when the lock is released", () => {
  const { net, published } = recordingNetwork();
  const inner = new MemoryStore();
  const peer = new Peer(inner, net);
  const id = genId();
  const head = inner.put(new TextEncoder().encode("stands in for branch metadata"));
  peer.withExclusiveLock!(() => inner.update(id, null, head));
  expect(published.map((p) => hex(p.branchId))).toEqual([hex(id)]);
});

test("Repository.createBranch through a Peer makes one branch and publishes it", () => {
  const { net, published } = recordingNetwork();
  const peer = new Peer(new MemoryStore(), net);
  const repo = new Repository(peer, SigningKey.generate());
  const branch = repo.createBranch("main");
  expect(() => repo.createBranch("main")).toThrow("already exists");
  expect(published.map((p) => hex(p.branchId))).toEqual([hex(branch.id)]);
});

test("a Peer's branchVersion moves when a delivered remote head moves a tracking branch", () => {
  const { net, queued } = recordingNetwork();
  const inner = new MemoryStore();
  const peer = new Peer(inner, net);
  const remoteKey = SigningKey.generate();
  const remoteStore = new MemoryStore();
  const remote = new Repository(remoteStore, remoteKey);
  remote.commit("main", new TribleSet().add(genId(), genId(), shortStringValue("fact")), "remote commit");
  const branch = remote.requireBranch("main");
  const reader = remoteStore.reader();
  inner.putMany([...reader.list()].map((h) => reader.get(h)!));

  const before = peer.branchVersion!();
  queued.push({ branchId: branch.id, head: branch.metaHandle, publisher: remoteKey.publicKey, receivedAt: Date.now() });
  const after = peer.branchVersion!();
  expect(after).not.toBe(before);
  expect(new Repository(inner).listBranches().filter((b) => b.tracking).map((b) => b.name)).toEqual(["main"]);
});
