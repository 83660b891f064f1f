/**
 * A malicious peer's store for the sync tests: serves `store`'s blobs, the ones `corrupts` picks
 * with their first byte flipped; it has no branches and refuses every update.
 */
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import type { BlobReader, BlobStore, BranchStore, Hash } from "../../src/core/store.ts";

export function corruptingStore(store: BlobStore, corrupts: (h: Hash, bytes: Uint8Array) => boolean): BlobStore & BranchStore {
  return {
    reader(): BlobReader {
      const inner = store.reader();
      return {
        len: inner.len,
        has: (h) => inner.has(h),
        checkMany: (hashes) => inner.checkMany(hashes),
        list: () => inner.list(),
        get: (h) => {
          const bytes = inner.get(h);
          if (!bytes || !corrupts(h, bytes)) return bytes;
          const bad = bytes.slice();
          bad[0]! ^= 1;
          // An empty blob has no byte to flip: it would be served intact.
          if (bytesEqual(hash(bad), h)) throw new Error("corruption kept the hash");
          return bad;
        },
      };
    },
    branches: () => [],
    head: () => null,
    update: () => ({ ok: false, current: null }),
  };
}
