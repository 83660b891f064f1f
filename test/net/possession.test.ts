/** Proof of possession (src/net/possession.ts) over a real store and scope index. */
import { expect, test } from "bun:test";
import { PERM_READ } from "../../src/auth/attributes.ts";
import { VerifiedCapability } from "../../src/auth/capability.ts";
import { FULL_READ_SCOPE, ScopeIndex } from "../../src/auth/scope.ts";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { HashIndex } from "../../src/core/hash-index.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { checkPossession } from "../../src/net/possession.ts";

const blob = (text: string, ...children: Hash[]) => {
  const pad = new Uint8Array(32);
  pad.set(new TextEncoder().encode(text).subarray(0, 32));
  const out = new Uint8Array(32 * (children.length + 1));
  out.set(pad);
  for (const [i, c] of children.entries()) out.set(c, 32 * (i + 1));
  return out;
};

/** A store with a granted branch (readable) and a secret blob tree the publisher may not read. */
function setup() {
  const store = new MemoryStore();
  const granted = genId();
  const shared = store.put(blob("shared"));
  store.update(granted, null, store.put(blob("granted head", shared)));
  const secretLeaf = store.put(blob("secret leaf"));
  const secret = store.put(blob("secret", secretLeaf));
  const scope = new ScopeIndex(store, new VerifiedCapability(new Uint8Array(32), genId(), [PERM_READ], [granted], 1, 1n << 100n));
  return { store, shared, secret, secretLeaf, scope };
}

/** A publisher holding exactly these blobs; records what it was asked. */
function publisher(holds: Uint8Array[], tamper = false) {
  const byHash = new Map(holds.map((b) => [toHex(hash(b)), b]));
  const asked: string[] = [];
  return {
    asked,
    source: async () => ({
      getBlobs: async (hashes: Hash[]) =>
        hashes.map((h) => {
          asked.push(toHex(h));
          const b = byHash.get(toHex(h));
          return b && tamper ? b.slice().fill(1) : (b ?? null);
        }),
    }),
  };
}

test("a head reaching only its own deliveries and the publisher's scope passes without asking anything", async () => {
  const { store, shared, scope } = setup();
  const mine = store.put(blob("new content", shared));
  const head = store.put(blob("new head", mine));
  const delivered = new HashIndex(16);
  delivered.insert(head);
  delivered.insert(mine);
  const p = publisher([]);
  expect(await checkPossession({ head, reader: store.reader(), scope, delivered, publisher: p.source })).toEqual({ ok: true, proven: 0 });
  expect(p.asked).toEqual([]);
});

test("a reference to a blob we hold but the publisher may not read is refused unless it produces the bytes", async () => {
  const { store, secret, secretLeaf, scope } = setup();
  const head = store.put(blob("borrow", secret));
  const delivered = new HashIndex(16);
  delivered.insert(head);
  const check = (p: ReturnType<typeof publisher>) => checkPossession({ head, reader: store.reader(), scope, delivered, publisher: p.source });
  const none = publisher([]);
  expect(await check(none)).toEqual({ ok: false, reason: `its head references blob ${toHex(secret)}, which it may not read here and did not produce` });
  expect(none.asked).toEqual([toHex(secret)]);
  // Bytes that do not hash to the blob prove nothing.
  expect((await check(publisher([blob("secret", secretLeaf)], true))).ok).toBe(false);
  // Holding the blob but not what it references is not enough either: the walk goes on below it.
  const partial = publisher([blob("secret", secretLeaf)]);
  expect(await check(partial)).toEqual({ ok: false, reason: `its head references blob ${toHex(secretLeaf)}, which it may not read here and did not produce` });
  expect(partial.asked).toEqual([toHex(secret), toHex(secretLeaf)]);
  // A publisher that holds them all (it could have written them itself) passes.
  expect(await check(publisher([blob("secret", secretLeaf), blob("secret leaf")]))).toEqual({ ok: true, proven: 2 });
  // Blobs another provider delivered are not the publisher's: with nothing delivered by it, even the head is asked.
  const fromOthers = publisher([]);
  expect((await checkPossession({ head, reader: store.reader(), scope, delivered: null, publisher: fromOthers.source })).ok).toBe(false);
  expect(fromOthers.asked).toEqual([toHex(head)]);
});

test("a publisher that reads everything is not walked", async () => {
  const { store, secret } = setup();
  const head = store.put(blob("borrow", secret));
  const p = publisher([]);
  expect(await checkPossession({ head, reader: store.reader(), scope: FULL_READ_SCOPE, delivered: null, publisher: p.source })).toEqual({ ok: true, proven: 0 });
  expect(p.asked).toEqual([]);
});
