/**
 * Which blobs a capability may read: for a branch-restricted capability, the closure of the granted
 * branches' heads (children = 32-byte chunks of a blob that are hashes of present blobs, the
 * pile-sync CHILDREN rule). The set is maintained incrementally: when a granted head moves, only
 * newly reachable blobs are walked (the walk stops at blobs already in scope). Stores are
 * append-only and heads move forward, so the scope only grows; if a granted branch disappears the
 * index is rebuilt from scratch.
 */
import { toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, BlobStore, BranchStore, Hash } from "../core/store.ts";
import type { Id } from "../core/id.ts";
import { PERM_READ } from "./attributes.ts";
import { VerifiedCapability } from "./capability.ts";

/**
 * What a peer may read of our store, as a proof-of-possession check asks it (net/possession.ts):
 * catch up once, then ask per blob without further work.
 */
export interface ReadScope {
  /** Covers every blob: nothing to check. */
  readonly unrestricted: boolean;
  /** Catches up with head moves of the granted branches (incremental). */
  update(reader?: BlobReader): void;
  /** Whether a present blob is in scope as of the last `update` (no work beyond one lookup). */
  covers(hash: Hash): boolean;
}

/** The scope of a key that reads everything (the team root). */
export const FULL_READ_SCOPE: ReadScope = { unrestricted: true, update() {}, covers: () => true };

/**
 * The scope of a reader of exactly these branches (their closures in `store`): what a peer whose
 * capability we do not know (the server of a pull) is taken to read when it serves one of them.
 */
export function branchesReadScope(store: BlobStore & BranchStore, branches: Id[]): ScopeIndex {
  return new ScopeIndex(store, new VerifiedCapability(new Uint8Array(32), new Uint8Array(16), [PERM_READ], branches, 0, 1n << 127n));
}

/** The scope of a key that may read nothing. */
export const NO_READ_SCOPE: ReadScope = { unrestricted: false, update() {}, covers: () => false };

export class ScopeIndex implements ReadScope {
  private members = new HashIndex(1024);
  private readonly walkedHeads = new Map<string, string>();
  /** Blobs walked so far (for the benchmark: incremental work done). */
  walked = 0;

  constructor(
    private readonly store: BlobStore & BranchStore,
    private readonly cap: VerifiedCapability,
  ) {}

  /** True when the (present) blob is readable under the capability. */
  inScope(hash: Hash, reader?: BlobReader): boolean {
    if (!this.cap.grantsRead()) return false;
    if (this.cap.unrestricted) return true;
    if (this.members.find(hash) >= 0) return true;
    this.update(reader);
    return this.members.find(hash) >= 0;
  }

  get unrestricted(): boolean {
    return this.cap.grantsRead() && this.cap.unrestricted;
  }

  covers(hash: Hash): boolean {
    return this.unrestricted || (this.cap.grantsRead() && this.members.find(hash) >= 0);
  }

  /** Catches up with head moves of the granted branches. */
  update(reader: BlobReader = this.store.reader()): void {
    const live = new Set<string>();
    for (const id of this.store.branches()) {
      if (!this.cap.grantsReadOn(id)) continue;
      const key = toHex(id);
      live.add(key);
      const head = this.store.head(id);
      if (!head) continue;
      const headKey = toHex(head);
      if (this.walkedHeads.get(key) === headKey) continue;
      this.walk(head, reader);
      this.walkedHeads.set(key, headKey);
    }
    for (const key of this.walkedHeads.keys()) {
      if (!live.has(key)) {
        // A granted branch disappeared: its blobs may no longer be readable. Rebuild.
        this.members = new HashIndex(1024);
        this.walkedHeads.clear();
        this.update(reader);
        return;
      }
    }
  }

  private walk(start: Hash, reader: BlobReader): void {
    if (!reader.has(start) || this.members.find(start) >= 0) return;
    this.members.append(start);
    const stack: Hash[] = [start];
    while (stack.length) {
      const bytes = reader.get(stack.pop()!);
      this.walked++;
      if (!bytes) continue;
      for (let at = 0; at + 32 <= bytes.length; at += 32) {
        const chunk = bytes.subarray(at, at + 32);
        if (this.members.find(chunk) >= 0 || !reader.has(chunk)) continue;
        this.members.append(chunk);
        stack.push(chunk.slice());
      }
    }
  }

  get size(): number {
    return this.members.size;
  }
}
