/** An in-memory store implementing the three store interfaces; used by tests and as a cache. */
import { hash as blake3, hashMany } from "./blake3.ts";
import { bytesEqual } from "./bytes.ts";
import { HashIndex } from "./hash-index.ts";
import { branchKey } from "./id.ts";
import type { BlobReader, BranchId, CasResult, Hash, Store } from "./store.ts";

export class MemoryStore implements Store {
  private readonly index = new HashIndex(64);
  private readonly blobs: Uint8Array[] = [];
  private readonly heads = new Map<bigint, { id: BranchId; head: Hash }>();
  private branchChanges = 0;

  reader(): BlobReader {
    return new MemoryReader(this.index, this.blobs, this.blobs.length);
  }

  put(bytes: Uint8Array): Hash {
    return this.store(bytes, blake3(bytes));
  }

  putMany(blobs: readonly Uint8Array[]): Hash[] {
    const hashes = hashMany(blobs);
    for (const [i, b] of blobs.entries()) this.store(b, hashes[i]!);
    return hashes;
  }

  /** Unlike the pile, memory keeps no record to check later, so the hashes are checked here. */
  putVerified(blobs: readonly Uint8Array[], hashes: readonly Hash[]): void {
    if (hashes.length !== blobs.length) throw new Error(`putVerified: ${blobs.length} blobs but ${hashes.length} hashes`);
    const computed = hashMany(blobs);
    if (computed.some((h, i) => !bytesEqual(h, hashes[i]!))) throw new Error("putVerified: a hash does not match its blob; nothing stored");
    for (const [i, b] of blobs.entries()) this.store(b, computed[i]!);
  }

  private store(bytes: Uint8Array, h: Hash): Hash {
    if (this.index.insert(h).added) this.blobs.push(bytes.slice());
    return h;
  }

  branches(): BranchId[] {
    return [...this.heads.values()].map((b) => b.id.slice());
  }

  head(id: BranchId): Hash | null {
    return this.heads.get(branchKey(id))?.head.slice() ?? null;
  }

  update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult {
    const key = branchKey(id);
    const current = this.heads.get(key)?.head ?? null;
    const matches = current === null ? expected === null : expected !== null && bytesEqual(current, expected);
    if (!matches) return { ok: false, current: current?.slice() ?? null };
    if (next === null) this.heads.delete(key);
    else this.heads.set(key, { id: id.slice(), head: next.slice() });
    this.branchChanges++;
    return { ok: true };
  }

  /** One thread and a synchronous `fn`: nothing else can run meanwhile. */
  withExclusiveLock<T>(fn: () => T): T {
    return fn();
  }

  branchVersion(): number {
    return this.branchChanges;
  }
}

class MemoryReader implements BlobReader {
  constructor(
    private readonly index: HashIndex,
    private readonly blobs: Uint8Array[],
    readonly len: number,
  ) {}

  get(hash: Hash): Uint8Array | undefined {
    const e = this.index.find(hash);
    return e >= 0 && e < this.len ? this.blobs[e] : undefined;
  }

  has(hash: Hash): boolean {
    const e = this.index.find(hash);
    return e >= 0 && e < this.len;
  }

  /** Memory holds only blobs hashed when they were put: nothing to check. */
  checkMany(_hashes: readonly Hash[]): void {}

  *list(): Iterable<Hash> {
    yield* this.listFrom(0);
  }

  /** Hashes stored after the first `fromEntry` (in put order), as the pile's reader offers. */
  *listFrom(fromEntry: number): Iterable<Hash> {
    for (let e = fromEntry; e < this.len; e++) yield this.index.keyAt(e);
  }
}
