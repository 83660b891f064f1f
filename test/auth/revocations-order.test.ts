/** Revocations.scan: revocations found at O(new blobs) per scan, in whatever order their two blobs arrive. */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { collectRevocations, issueRevocation, signBlob } from "../../src/auth/capability.ts";
import { Revocations } from "../../src/auth/revocations.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { BlobReader, Hash } from "../../src/core/store.ts";

const root = SigningKey.fromSeed(new Uint8Array(32).fill(1));
const outsider = SigningKey.fromSeed(new Uint8Array(32).fill(2));
const target = (n: number) => new Uint8Array(32).fill(100 + n);
const filler = (n: number) => new TextEncoder().encode(`blob ${n}`);

/** Counts the blobs a scan reads, to show it reads only new ones. */
function counting(reader: BlobReader & { listFrom?(n: number): Iterable<Hash> }) {
  let gets = 0;
  const wrapped = Object.create(reader) as typeof reader;
  wrapped.get = (h) => {
    gets++;
    return reader.get(h);
  };
  return { reader: wrapped, gets: () => gets };
}

test("a revocation is found, and a later scan reads only the blobs stored since", () => {
  const store = new MemoryStore();
  store.putMany(Array.from({ length: 1000 }, (_, i) => filler(i)));
  const rev = issueRevocation(root, target(1));
  store.putMany([rev.blob, rev.sigBlob]);
  const scanner = new Revocations([root.publicKey]);
  scanner.scan(store.reader());
  expect(scanner.has(target(1))).toBe(true);

  store.putMany([filler(5000), filler(5001)]);
  const watched = counting(store.reader());
  scanner.scan(watched.reader);
  expect(watched.gets()).toBe(2);
  const unchanged = counting(store.reader());
  scanner.scan(unchanged.reader);
  expect(unchanged.gets()).toBe(0);
});

test("a signature stored before the revocation it signs is judged when the revocation arrives", () => {
  const store = new MemoryStore();
  const rev = issueRevocation(root, target(2));
  store.put(rev.sigBlob);
  const scanner = new Revocations([root.publicKey]);
  scanner.scan(store.reader());
  expect(scanner.has(target(2))).toBe(false);
  store.put(filler(1));
  scanner.scan(store.reader());
  store.put(rev.blob);
  scanner.scan(store.reader());
  expect(scanner.has(target(2))).toBe(true);
});

test("a forged signature over the same revocation does not displace the root's, and an outsider's revocation counts for nothing", () => {
  const store = new MemoryStore();
  const rev = issueRevocation(root, target(3));
  const forged = issueRevocation(outsider, target(3), 0n);
  // The outsider's signature over the root's revocation blob: same signed hash, stored after the root's.
  const forgedSig = sigBlobFor(outsider, rev.blob);
  store.putMany([rev.sigBlob, forgedSig, forged.blob, forged.sigBlob]);
  const scanner = new Revocations([root.publicKey]);
  scanner.scan(store.reader());
  expect(scanner.size).toBe(0);
  store.put(rev.blob);
  scanner.scan(store.reader());
  expect(scanner.has(target(3))).toBe(true);
  expect(scanner.size).toBe(1);
});

/** A signature blob over `blob` by `key`, shaped as the sig blobs capability.ts makes. */
const sigBlobFor = (key: SigningKey, blob: Uint8Array): Uint8Array => signBlob(key, blob).sigBlob;

test("scanning in any number of steps finds what one full scan finds, whatever order the blobs arrive in", () => {
  const revs = [issueRevocation(root, target(4)), issueRevocation(root, target(5)), issueRevocation(outsider, target(6))];
  const blobs = [...revs.flatMap((r) => [r.blob, r.sigBlob]), filler(1), filler(2), sigBlobFor(outsider, revs[0]!.blob)];
  fc.assert(
    fc.property(fc.shuffledSubarray(blobs, { minLength: blobs.length, maxLength: blobs.length }), fc.array(fc.integer({ min: 1, max: blobs.length }), { maxLength: 4 }), (order, cuts) => {
      const store = new MemoryStore();
      const scanner = new Revocations([root.publicKey]);
      let at = 0;
      for (const cut of [...cuts.sort((a, b) => a - b), blobs.length]) {
        store.putMany(order.slice(at, Math.max(at, cut)));
        at = Math.max(at, cut);
        scanner.scan(store.reader());
      }
      const full = collectRevocations(store.reader(), [root.publicKey]);
      expect(scanner.size).toBe(full.size);
      expect(full.size).toBe(2);
      for (const n of [4, 5]) expect(scanner.has(target(n))).toBe(true);
    }),
    { numRuns: 200 },
  );
});
