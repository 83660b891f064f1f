/**
 * The access policy of a team: a connecting peer must present a capability chain that verifies
 * from the team root (with revocations applied); what it may read is its capability's scope.
 * Verified capabilities are remembered by key so gossip from a peer can be checked too.
 *
 * Access also ends while a peer is connected: when a revocation is learned (from the pile, from a
 * peer at AUTH, by gossip) every remembered capability is checked again, and each capability has
 * a timer at its expiry instant. Either way `onAccessLost` listeners hear of the key (the network
 * layer then closes its connections and drops its heads).
 */
import { hash } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import { KeyedMap } from "../core/keyed-map.ts";
import { HashIndex } from "../core/hash-index.ts";
import { nowTaiNs, unixMsFromTaiNs } from "../core/schemas.ts";
import type { BlobReader, BlobStore, BlobStorePut, BranchStore, Hash } from "../core/store.ts";
import { type BlobSource, chainBlobs, type RevocationSet, type VerifiedCapability, verifyChain } from "./capability.ts";
import { describeRefusal, type Refusal, refusalFromError } from "./refusal.ts";
import { type Revocation, revocationPairs, Revocations } from "./revocations.ts";
import { FULL_READ_SCOPE, type ReadScope, ScopeIndex } from "./scope.ts";

export interface AuthRequestLike {
  capHandle: Hash;
  remoteKey: Uint8Array;
  chain: Uint8Array[];
  /** Who sent it (for messages about revocations it carried). */
  from?: string;
}

export interface ScopeLike {
  inScope(hash: Hash, reader: BlobReader): boolean;
}

/** Time as the policy sees it; tests inject one to expire capabilities without waiting. */
export interface PolicyClock {
  nowNs(): bigint;
  /** Calls `fn` once the clock reaches `atNs`; returns a cancel function. */
  at(atNs: bigint, fn: () => void): () => void;
}

/** setTimeout caps delays at 2^31-1 ms (24.8 days); longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: PolicyClock = {
  nowNs: nowTaiNs,
  at(atNs, fn) {
    let timer: ReturnType<typeof setTimeout>;
    const arm = () => {
      const wait = unixMsFromTaiNs(atNs) - Date.now();
      // +1: fire just after the instant, so a check at that moment sees the capability expired.
      timer = setTimeout(wait > MAX_TIMER_MS ? arm : fn, Math.max(0, Math.min(wait + 1, MAX_TIMER_MS)));
      timer.unref?.();
    };
    arm();
    return () => clearTimeout(timer);
  },
};

/** Most revocations taken from one AUTH request or one batch of pushed blobs (each costs a signature check). */
export const MAX_REVOCATIONS_PER_BATCH = 64;

interface Known {
  cap: VerifiedCapability;
  capHandle: Hash;
  /** The chain's blobs (leaf sig first), to re-verify it and to hand it to peers that ask. */
  chain: Uint8Array[];
  cancelExpiry: () => void;
}

export type AccessLostListener = (key: Uint8Array, refusal: Refusal) => void;
/** `from`: "pile", or who handed it to us (a peer id, "gossip"). */
export type RevocationListener = (revocation: Revocation, from: string) => void;

/** Refusals remembered (see TeamPolicy.refusals): far more than a team's members, bounded for strangers. */
export const MAX_REFUSALS_REMEMBERED = 4096;

/** Who may connect to, read from and publish to a store of a team with this root. */
export class TeamPolicy {
  private readonly known = new Map<string, Known>();
  readonly revocations: Revocations;
  /**
   * Last refusal per key (for messages, and so a refused publisher is not waited for). Every
   * stranger brings a key of its choosing, so the table is seeded and holds the latest
   * MAX_REFUSALS_REMEMBERED; a forgotten one is learnt again at that key's next AUTH.
   */
  private readonly refusals = new KeyedMap<Refusal>(MAX_REFUSALS_REMEMBERED);
  private readonly lostListeners: AccessLostListener[] = [];
  private readonly revocationListeners: RevocationListener[] = [];
  private readonly verifiedListeners: (() => void)[] = [];
  private readonly authRefusedListeners: ((key: Uint8Array) => void)[] = [];
  private readonly clock: PolicyClock;
  /** Read scopes of publishers (see readScopeOf), by hex key. */
  private readonly readScopes = new Map<string, { cap: VerifiedCapability; index: ScopeIndex }>();

  /** The policy of the team rooted at `teamRoot`, over `store` (where capabilities and revocations are read). */
  constructor(
    private readonly store: BlobStore & BlobStorePut & BranchStore,
    readonly teamRoot: Uint8Array,
    opts: { clock?: PolicyClock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.revocations = new Revocations([teamRoot]);
  }

  /** Revoked keys (only grows). */
  get revoked(): RevocationSet {
    return this.revocations.set;
  }

  /** Called when a key we verified loses access (revoked, or its capability expired). */
  onAccessLost(listener: AccessLostListener): void {
    this.lostListeners.push(listener);
  }

  /** Called whenever a capability is verified (presented at AUTH, or a chain a peer relayed): a head waiting for its publisher's may now be admitted. */
  onCapabilityVerified(listener: () => void): void {
    this.verifiedListeners.push(listener);
  }

  /** Called when a connecting peer's AUTH is refused (see `authorize`), with the key it connected as. */
  onAuthRefused(listener: (key: Uint8Array) => void): void {
    this.authRefusedListeners.push(listener);
  }

  /** Called for each revocation learned, wherever it came from (to pass it on). */
  onRevocation(listener: RevocationListener): void {
    this.revocationListeners.push(listener);
  }

  /** Picks up root-signed revocations stored in the pile since the last call. */
  refreshRevocations(): void {
    this.learned(this.revocations.scan(this.store.reader()), "pile");
  }

  /**
   * Takes the revocations among `blobs` (e.g. sent by a peer): each is verified, stored, and acted
   * on. At most MAX_REVOCATIONS_PER_BATCH are looked at. Returns the new ones.
   */
  learnRevocations(blobs: readonly Uint8Array[], from = "a peer"): Revocation[] {
    const fresh: Revocation[] = [];
    for (const { sigBlob, revBlob } of revocationPairs(blobs, MAX_REVOCATIONS_PER_BATCH)) {
      const rev = this.revocations.add(sigBlob, revBlob);
      if (!rev) continue;
      this.store.putMany([revBlob, sigBlob]);
      fresh.push(rev);
    }
    this.learned(fresh, from);
    return fresh;
  }

  /** Every revocation we know, as blobs (revocation, then its sig blob), newest last. */
  revocationBlobs(): Uint8Array[] {
    return this.revocations.all().flatMap((r) => [r.revBlob, r.sigBlob]);
  }

  private learned(fresh: Revocation[], from: string): void {
    if (fresh.length === 0) return;
    for (const rev of fresh) for (const listener of this.revocationListeners) listener(rev, from);
    // A revoked admin takes everyone it delegated to with it: check every remembered chain again.
    for (const [hex, known] of [...this.known]) {
      try {
        verifyChain(this.teamRoot, known.capHandle, known.cap.subject, this.revoked, overlay(known.chain, this.store), this.clock.nowNs());
      } catch (err) {
        this.lose(hex, known, this.refusalOf(err));
      }
    }
  }

  private lose(hex: string, known: Known, refusal: Refusal): void {
    if (this.known.get(hex) !== known) return;
    known.cancelExpiry();
    this.known.delete(hex);
    this.readScopes.delete(hex);
    this.refusals.set(known.cap.subject, refusal);
    for (const listener of this.lostListeners) listener(known.cap.subject, refusal);
  }

  private refusalOf(err: unknown): Refusal {
    return refusalFromError(err, (key) => this.revocations.of(key)?.atNs);
  }

  /** Verifies a chain for `key` and remembers it; the refusal when it does not verify. */
  private verify(key: Uint8Array, capHandle: Hash, blobs: Uint8Array[]): VerifiedCapability | Refusal {
    const hex = toHex(key);
    try {
      this.refreshRevocations();
      const source = overlay(blobs, this.store);
      const cap = verifyChain(this.teamRoot, capHandle, key, this.revoked, source, this.clock.nowNs());
      this.remember(hex, cap, capHandle, chainBlobs(capHandle, source));
      this.refusals.delete(key);
      return cap;
    } catch (err) {
      const refusal = this.refusalOf(err);
      this.refusals.set(key, refusal);
      return refusal;
    }
  }

  private remember(hex: string, cap: VerifiedCapability, capHandle: Hash, chain: Uint8Array[]): void {
    this.known.get(hex)?.cancelExpiry();
    const known: Known = { cap, capHandle, chain, cancelExpiry: () => undefined };
    this.known.set(hex, known);
    known.cancelExpiry = this.clock.at(cap.expiresAt, () => this.lose(hex, known, { kind: "expired", atNs: cap.expiresAt }));
    for (const listener of this.verifiedListeners) listener();
  }

  /**
   * Verifies a connecting peer's capability (after taking any revocations sent along with it);
   * returns its read scope, or why it is refused.
   */
  authorize(request: AuthRequestLike): ScopeLike | { refusal: Refusal } {
    const scope = this.scopeFor(request);
    if ("refusal" in scope) for (const listener of this.authRefusedListeners) listener(request.remoteKey);
    return scope;
  }

  private scopeFor(request: AuthRequestLike): ScopeLike | { refusal: Refusal } {
    this.learnRevocations(request.chain, request.from);
    if (request.capHandle.every((b) => b === 0)) return this.refuse(request.remoteKey, { kind: "no-capability" });
    // Only this request fails: a capability the key verified before (on another connection,
    // say a healthy sync while a stray process with the same key and no capability connects)
    // stays, until it is revoked or expires.
    const cap = this.verify(request.remoteKey, request.capHandle, request.chain);
    if ("kind" in cap) return { refusal: cap };
    if (!cap.grantsRead()) return this.refuse(request.remoteKey, { kind: "no-read" });
    const index = new ScopeIndex(this.store, cap);
    return { inScope: (h, reader) => index.inScope(h, reader) };
  }

  private refuse(key: Uint8Array, refusal: Refusal): { refusal: Refusal } {
    this.refusals.set(key, refusal);
    return { refusal };
  }

  /**
   * Verifies a capability chain a third party handed us for `key` (a publisher we never
   * authenticated, whose head was relayed to us); remembered like one presented at AUTH.
   * `blobs[0]` is the leaf sig blob.
   */
  learnChain(key: Uint8Array, blobs: Uint8Array[]): VerifiedCapability | Refusal {
    const known = this.capabilityOf(key);
    if (known) return known;
    if (blobs.length === 0) return { kind: "no-capability" };
    return this.verify(key, hash(blobs[0]!), blobs);
  }

  /** The chain blobs of a key's verified capability (leaf sig first), for a peer that asks. */
  chainOf(key: Uint8Array): Uint8Array[] | undefined {
    return this.capabilityOf(key) ? this.known.get(toHex(key))?.chain : undefined;
  }

  /** The verified capability a peer presented to us, if any (and not revoked or expired since). */
  capabilityOf(key: Uint8Array): VerifiedCapability | undefined {
    const hex = toHex(key);
    const known = this.known.get(hex);
    if (!known) return undefined;
    this.refreshRevocations();
    if (this.known.get(hex) !== known) return undefined; // the refresh revoked it
    if (known.cap.expiresAt <= this.clock.nowNs()) {
      this.lose(hex, known, { kind: "expired", atNs: known.cap.expiresAt });
      return undefined;
    }
    return known.cap;
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

  /** Why a key was last refused (or lost access), if it was. */
  refusalFor(key: Uint8Array): Refusal | undefined {
    const revocation = this.revocations.of(key);
    if (revocation) return { kind: "revoked", ...(revocation.atNs === undefined ? {} : { atNs: revocation.atNs }) };
    return key.length === 32 ? this.refusals.get(key) : undefined;
  }

  /** Whether a gossiped head from `publisher` may be acted on: it must hold write permission. */
  admits(publisher: Uint8Array, branchId: Uint8Array): boolean {
    if (bytesEqual(publisher, this.teamRoot)) return !this.revoked.has(publisher);
    return this.capabilityOf(publisher)?.grantsWriteOn(branchId) ?? false;
  }

  /** Why a head from `publisher` on `branchId` is not admitted, in plain words. */
  whyNotAdmitted(publisher: Uint8Array, _branchId?: Uint8Array): string {
    const cap = this.capabilityOf(publisher);
    if (cap) return cap.grantsWrite() ? "its capability does not cover this branch" : "its capability is read-only";
    const refusal = this.refusalFor(publisher);
    return refusal ? `its capability was refused: ${describeRefusal(refusal)}` : "no capability of it is known here (it never authenticated to us, and no peer had its chain)";
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
