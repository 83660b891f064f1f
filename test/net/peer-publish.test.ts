/**
 * What a Peer publishes, with the network side replaced by a recorder (this tests the wrapper, not
 * the network): a branch moved behind the Peer's back (on the inner store, or by another handle of
 * the same pile file) is published on the next read, each head once, and blob puts publish nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { toHex } from "../../src/core/bytes.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { BranchId, Hash, Store } from "../../src/core/store.ts";
import { Peer, type PeerNetwork } from "../../src/net/peer.ts";
import { Pile } from "../../src/pile/pile.ts";
import { tempDir } from "../pile/helpers.ts";

const tmp = tempDir("tribles-peer-publish-");
afterAll(() => tmp.cleanup());

class Recorder implements PeerNetwork {
  heads: string[] = [];
  announced = 0;
  takeDelivered() {
    return [];
  }
  publishHead(id: BranchId, head: Hash) {
    this.heads.push(`${toHex(id)}=${toHex(head)}`);
  }
  announce(hashes: Hash[]) {
    this.announced += hashes.length;
  }
}

function check(inner: Store, behind: Store): void {
  const net = new Recorder();
  const peer = new Peer(inner, net);
  const id = genId();
  const [m1, m2] = behind.putMany([new TextEncoder().encode("meta one"), new TextEncoder().encode("meta two")]);
  peer.branches();
  expect(net.heads).toEqual([]);

  behind.update(id, null, m1!);
  peer.branches();
  peer.reader();
  expect(net.heads).toEqual([`${toHex(id)}=${toHex(m1!)}`]);

  // Puts publish no head, but announce their blobs.
  const before = net.announced;
  for (let i = 0; i < 5; i++) peer.put(new TextEncoder().encode(`blob ${i}`));
  expect(net.heads).toHaveLength(1);
  expect(net.announced).toBe(before + 5);

  behind.update(id, m1!, m2!);
  peer.head(id);
  expect(net.heads).toEqual([`${toHex(id)}=${toHex(m1!)}`, `${toHex(id)}=${toHex(m2!)}`]);

  // Through the Peer itself: published at once.
  const other = genId();
  peer.update(other, null, m1!);
  expect(net.heads.at(-1)).toBe(`${toHex(other)}=${toHex(m1!)}`);
  expect(net.heads).toHaveLength(3);
}

test("memory store: a branch moved on the inner store is published on the next read, once", () => {
  const store = new MemoryStore();
  check(store, store);
});

test("pile: a branch moved through another handle of the same file is published on the next read, once", () => {
  const path = tmp.path("shared.pile");
  const mine = Pile.open(path);
  const theirs = Pile.open(path);
  try {
    check(mine, theirs);
  } finally {
    mine.close();
    theirs.close();
  }
});
