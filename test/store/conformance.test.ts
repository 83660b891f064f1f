/** The store conformance suite (conformance.ts) against MemoryStore, Pile and Peer. */
import { afterAll } from "bun:test";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Store } from "../../src/core/store.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { Peer, type PeerNetwork } from "../../src/net/peer.ts";
import { openPolicy } from "../../src/net/protocol.ts";
import { SyncNode } from "../../src/net/sync.ts";
import { Pile } from "../../src/pile/pile.ts";
import { tempDir } from "../pile/helpers.ts";
import { referenceConformance, storeConformance } from "./conformance.ts";

const tmp = tempDir("tribles-conformance-");
afterAll(() => tmp.cleanup());
let files = 0;
const openPile = () => Pile.open(tmp.path(`store-${files++}.pile`));

/** A network that delivers nothing and drops what it is given: Peer then behaves as a plain store. */
const quietNetwork = (): PeerNetwork => ({ takeDelivered: () => [], publishHead() {}, announce() {} });

/** A store that offers none of the optional methods, to show Peer does not invent them. */
function bareStore(inner: Store): Store {
  return {
    reader: () => inner.reader(),
    put: (b) => inner.put(b),
    putMany: (b) => inner.putMany(b),
    putVerified: (b, h) => inner.putVerified(b, h),
    branches: () => inner.branches(),
    head: (id) => inner.head(id),
    update: (id, e, n) => inner.update(id, e, n),
  };
}

storeConformance("MemoryStore", () => ({ store: new MemoryStore(), close() {} }), { exclusiveLock: true, branchVersion: true, sizeOf: false });
storeConformance(
  "Pile",
  () => {
    const pile = openPile();
    return { store: pile, close: () => pile.close() };
  },
  { exclusiveLock: true, branchVersion: true, sizeOf: true },
);
storeConformance("Peer around a MemoryStore", () => ({ store: new Peer(new MemoryStore(), quietNetwork()), close() {} }), { exclusiveLock: true, branchVersion: true, sizeOf: false });
storeConformance(
  "Peer around a Pile",
  () => {
    const pile = openPile();
    return { store: new Peer(pile, quietNetwork()), close: () => pile.close() };
  },
  { exclusiveLock: true, branchVersion: true, sizeOf: true },
);
storeConformance("Peer around a store without the optional methods", () => ({ store: new Peer(bareStore(new MemoryStore()), quietNetwork()), close() {} }), {
  exclusiveLock: false,
  branchVersion: false,
  sizeOf: false,
});

storeConformance(
  "Peer of a running SyncNode (127.0.0.1, no peers)",
  async () => {
    const key = SigningKey.generate();
    const node = await SyncNode.start({
      store: new MemoryStore(),
      key,
      teamRoot: key.publicKey,
      credentials: { capHandle: new Uint8Array(32), chain: [] },
      policy: openPolicy,
      listen: ["/ip4/127.0.0.1/tcp/0"],
    });
    return { store: node.peer, close: () => node.stop() };
  },
  { exclusiveLock: true, branchVersion: true, sizeOf: false },
);

const copyTo = (fixture: string) => tmp.path(`${files++}-${fixture}`);
referenceConformance("Pile", copyTo, (path) => {
  const pile = Pile.open(path);
  return { store: pile, close: () => pile.close() };
});
referenceConformance("Peer around a Pile", copyTo, (path) => {
  const pile = Pile.open(path);
  return { store: new Peer(pile, quietNetwork()), close: () => pile.close() };
});
