/**
 * The seam every layer shares: the memory store, the pile and the network `Peer` all implement
 * these three small interfaces, so any of them can stand in for another.
 *
 * Hashes are 32-byte BLAKE3 digests and branch ids 16-byte ids, always as `Uint8Array`.
 */

/** A 32-byte BLAKE3 digest of a blob's bytes (the blob's handle). */
export type Hash = Uint8Array;
/** A 16-byte, non-nil branch id. */
export type BranchId = Uint8Array;

/** Bytes in a blob hash. */
export const HASH_LEN = 32;
/** Bytes in a branch id. */
export const ID_LEN = 16;

/** An immutable snapshot of a blob store: it never sees blobs added after it was taken. */
export interface BlobReader {
  /** The blob's bytes (possibly a zero-copy view; do not mutate), or undefined if absent. Throws if stored bytes fail verification. */
  get(hash: Hash): Uint8Array | undefined;
  /** Whether the snapshot holds the blob. */
  has(hash: Hash): boolean;
  /**
   * Verifies the stored bytes of these blobs (those present, not checked yet) in one hashing batch,
   * for a caller about to `get` them all: a store that checks each blob on its first read would
   * otherwise hash them one at a time. Never throws; a damaged blob is reported by its `get`.
   */
  checkMany(hashes: readonly Hash[]): void;
  /**
   * The stored length of a blob without reading or verifying it (undefined if absent), for callers
   * that look for small blobs among many. Optional: a reader without it is read in full.
   */
  sizeOf?(hash: Hash): number | undefined;
  /** Every blob hash in this snapshot. */
  list(): Iterable<Hash>;
  /** Number of blobs in this snapshot. */
  readonly len: number;
}

/** A store of blobs that can be read through snapshots. */
export interface BlobStore {
  /** Takes a snapshot. */
  reader(): BlobReader;
}

/** The writing side of a blob store. */
export interface BlobStorePut {
  /** Stores a blob and returns its hash; storing a blob already present writes nothing. */
  put(bytes: Uint8Array): Hash;
  /** Stores many blobs in one batch (one write, one hashing call). */
  putMany(blobs: readonly Uint8Array[]): Hash[];
  /**
   * Stores blobs whose hashes the caller computed already (a fetch checks every received blob
   * against the hash it asked for), without hashing them again. `hashes[i]` must be the BLAKE3
   * hash of `blobs[i]`; a store never serves a blob under a wrong hash (the pile verifies such a
   * record when it is first read, and reports it as damaged).
   */
  putVerified(blobs: readonly Uint8Array[], hashes: readonly Hash[]): void;
}

/** Outcome of a branch compare-and-swap. On conflict, `current` is the head the store actually holds. */
export type CasResult = { ok: true } | { ok: false; current: Hash | null };

/** Named heads: each branch id points at the handle of its branch-metadata blob. */
export interface BranchStore {
  /** Ids of all live (non-deleted) branches. */
  branches(): BranchId[];
  /** The branch's head (handle of its branch-metadata blob), or null if the branch does not exist. */
  head(id: BranchId): Hash | null;
  /**
   * Compare-and-swap: moves the branch from `expected` to `next` only if its head is `expected`
   * (null = absent). `next = null` deletes the branch.
   */
  update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult;
  /**
   * Runs `fn` (synchronous) with no other writer of this store able to change it meanwhile, and
   * returns its result; the store's own methods work inside. For a check-then-act across
   * processes, such as creating a branch only if no branch has its name. Optional: a store that
   * cannot offer it (a remote peer) leaves the caller with plain compare-and-swap.
   */
  withExclusiveLock?<T>(fn: () => T): T;
  /**
   * A number that changes whenever a branch is created, moved or deleted (here or, for a shared
   * file, by another process). Optional: it lets a wrapper such as `Peer` tell "no branch changed"
   * in O(1) instead of comparing every branch on every read and put.
   */
  branchVersion?(): number;
}

/** Everything a full store offers. */
export interface Store extends BlobStore, BlobStorePut, BranchStore {}
