/**
 * The access policy of a team: a connecting peer must present a capability chain that verifies
 * from the team root (with revocations applied); what it may read is its capability's scope.
 * Verified capabilities are remembered by key so gossip from a peer can be checked too.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import { hash } from "../core/blake3.ts";
import { HashIndex } from "../core/hash-index.ts";
import { nowTaiNs } from "../core/schemas.ts";
import type { BlobReader, BlobStore, BranchStore, Hash } from "../core/store.ts";
import { type BlobSource, ChainError, collectRevocations, RevocationSet, type VerifiedCapability, verifyChain } from "./capability.ts";
import { FULL_READ_SCOPE, type ReadScope, ScopeIndex } from "./scope.ts";

export interface AuthRequestLike {
  capHandle: Hash;
  remoteKey: Uint8Array;
  chain: Uint8Array[];
}

export interface ScopeLike {
  inScope(hash: Hash, reader: BlobReader): boolean;
}

/** Who may connect to, read from and publish to a store of a team with this root. */
export class TeamPolicy {
  private readonly verified = new Map<string, VerifiedCapability>();
  readonly revoked = new RevocationSet();
  private scannedBlobs = -1;
  /** Last rejection reason per key (for error messages). */
  readonly rejections = new Map<string, string>();
  /** Read scopes of publishers (see readScopeOf), by hex key. */
  private readonly readScopes = new Map<string, { cap: VerifiedCapability; index: ScopeIndex }>();

  /** The policy of the team rooted at `teamRoot`, over `store` (where capabilities and revocations are read). */
  constructor(
    private readonly store: BlobStore & BranchStore,
    readonly teamRoot: Uint8Array,
  ) {}

  /** Picks up root-signed revocations stored since the last call (the set only grows). */
  refreshRevocations(): void {
    const reader = this.store.reader();
    if (reader.len === this.scannedBlobs) return;
    collectRevocations(reader, [this.teamRoot], this.revoked);
    this.scannedBlobs = reader.len;
  }

  /** Verifies a connecting peer's capability; returns its read scope, or null. */
  authorize(request: AuthRequestLike): ScopeLike | null {
    const key = toHex(request.remoteKey);
    try {
      this.refreshRevocations();
      const cap = verifyChain(this.teamRoot, request.capHandle, request.remoteKey, this.revoked, overlay(request.chain, this.store));
      if (!cap.grantsRead()) throw new ChainError("ScopeNotSubset", "capability grants no read permission");
      this.verified.set(key, cap);
      this.rejections.delete(key);
      const index = new ScopeIndex(this.store, cap);
      return { inScope: (h, reader) => index.inScope(h, reader) };
    } catch (err) {
      // Only this request fails: a capability the key verified before (on another connection,
      // say a healthy sync while a stray process with the same key and no capability connects)
      // stays, until it is revoked or expires (see capabilityOf).
      this.rejections.set(key, (err as Error).message);
      return null;
    }
  }

  /** The verified capability a peer presented to us, if any (and not revoked or expired since). */
  capabilityOf(key: Uint8Array): VerifiedCapability | undefined {
    const cap = this.verified.get(toHex(key));
    if (!cap) return undefined;
    this.refreshRevocations();
    if (this.revoked.has(key) || cap.expiresAt <= nowTaiNs()) return undefined;
    return cap;
  }

  /**
   * What `key` may read of our store, by its verified capability (the team root reads everything);
   * null without one. One incremental index per key, kept while its capability stays the same: a
   * head from a publisher may bring into a scope only blobs under this, or blobs it delivered.
   */
  readScopeOf(key: Uint8Array): ReadScope | null {
    if (bytesEqual(key, this.teamRoot)) return FULL_READ_SCOPE;
    const cap = this.capabilityOf(key);
    const hex = toHex(key);
    if (!cap?.grantsRead()) {
      this.readScopes.delete(hex);
      return null;
    }
    const held = this.readScopes.get(hex);
    if (held?.cap === cap) return held.index;
    const index = new ScopeIndex(this.store, cap);
    this.readScopes.set(hex, { cap, index });
    return index;
  }

  /** Whether a gossiped head from `publisher` may be acted on: it must hold write permission. */
  admits(publisher: Uint8Array, branchId: Uint8Array): boolean {
    if (bytesEqual(publisher, this.teamRoot)) return true;
    return this.capabilityOf(publisher)?.grantsWriteOn(branchId) ?? false;
  }
}

/** Blobs carried with AUTH (hash-checked) in front of the local store. */
function overlay(chain: Uint8Array[], store: BlobStore): BlobSource {
  const index = new HashIndex(16);
  const blobs: Uint8Array[] = [];
  for (const blob of chain) {
    if (index.insert(hash(blob)).added) blobs.push(blob);
  }
  const reader = store.reader();
  return {
    get(h) {
      const e = index.find(h);
      return e >= 0 ? blobs[e] : reader.get(h);
    },
  };
}
