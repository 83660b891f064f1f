/**
 * `Peer` wraps any store and implements the store interfaces again, so code written against a
 * store syncs without knowing it. Every read first drains what the network delivered (remote heads
 * whose blobs are already stored) into tracking branches, then publishes local changes (branch
 * heads by gossip, new blobs by announcement), then serves a fresh snapshot. Writes go to the inner
 * store and are published at once.
 *
 * Directions: bidirectional; readonly (receive, never publish); writeonly (publish, never apply
 * received heads).
 */
import { decodeSimpleArchive } from "../core/archive.ts";
import { bytesEqual } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import { branchKey } from "../core/id.ts";
import type { BlobReader, BranchId, CasResult, Hash, Store } from "../core/store.ts";
import { TRACKING_REMOTE_BRANCH } from "../repo/attributes.ts";
import { applyRemoteHead, type TrackingResult } from "../repo/tracking.ts";

/** Which way a Peer syncs: both, receive only (readonly) or publish only (writeonly). */
export type SyncDirection = "bidirectional" | "readonly" | "writeonly";

/** A remote branch head whose blobs are now stored, ready for its tracking branch. */
export interface RemoteHead {
  branchId: BranchId;
  /** Handle of the remote branch-metadata blob. */
  head: Hash;
  /** The publisher's Ed25519 key. */
  publisher: Uint8Array;
  receivedAt: number;
}

/** What the network side offers a Peer. */
export interface PeerNetwork {
  /** Remote heads whose closure is now in the inner store, oldest first; each returned once. */
  takeDelivered(): RemoteHead[];
  /** Gossips a local branch head. */
  publishHead(branchId: BranchId, head: Hash): void;
  /** Announces newly stored local blobs. */
  announce(hashes: Hash[]): void;
}

/** Callbacks of a Peer. */
export interface PeerEvents {
  /** A delivered remote head was applied (or found stale / rejected). */
  onApplied?(remote: RemoteHead, result: TrackingResult): void;
  /** A local branch head was published. */
  onPublished?(branchId: BranchId, head: Hash): void;
}

/** Any store, synced: reads apply what the network delivered, writes are published (see the module comment). */
export class Peer implements Store {
  /** The head last published (or skipped as tracking) per branch, keyed by the id's bytes. */
  private readonly published = new Map<bigint, Hash>();
  /** Branch-metadata handles seen, with whether each is a tracking branch's (one flag per entry). */
  private readonly metaSeen = new HashIndex(64);
  private metaIsTracking = new Uint8Array(64);
  /** The inner store's branch version at the last pass over its branches; see `BranchStore.branchVersion`. */
  private publishedVersion: number | undefined;
  private announcedLen = 0;
  private lastEvent: number | null = null;
  private released = false;

  /**
   * The wrapped store's exclusive lock, when it has one (see `BranchStore.withExclusiveLock`):
   * `fn` runs with this Peer's methods working inside, and what it changed is published after.
   */
  readonly withExclusiveLock?: <T>(fn: () => T) => T;
  /**
   * The wrapped store's branch version, when it has one, after applying what the network
   * delivered (so it changes when a remote head moves a tracking branch too).
   */
  readonly branchVersion?: () => number;

  /** Wraps `innerStore`; `net` is the network side (a `SyncNode` makes both). */
  constructor(
    private readonly innerStore: Store,
    private readonly net: PeerNetwork,
    /** Which way this Peer syncs. */
    readonly direction: SyncDirection = "bidirectional",
    private readonly events: PeerEvents = {},
  ) {
    // Offered only when the wrapped store offers them: a caller checks for the method itself.
    if (innerStore.withExclusiveLock) {
      this.withExclusiveLock = <T>(fn: () => T): T => {
        const result = innerStore.withExclusiveLock!(fn);
        this.publishChanges();
        return result;
      };
    }
    if (innerStore.branchVersion) {
      this.branchVersion = () => {
        this.refresh();
        return innerStore.branchVersion!();
      };
    }
  }

  /** Time (ms since epoch) of the last remote event applied, or null. */
  get lastEventAt(): number | null {
    return this.lastEvent;
  }

  /** The wrapped store (reads through it bypass the network). */
  get inner(): Store {
    return this.innerStore;
  }

  /** Stops syncing through this Peer and hands back the inner store. */
  release(): Store {
    this.released = true;
    return this.innerStore;
  }

  /** Drains network events into the store, then publishes local changes. */
  refresh(): void {
    if (this.released) return;
    this.drain();
    this.publishChanges();
  }

  private drain(): void {
    const delivered = this.net.takeDelivered();
    if (this.direction === "writeonly") return;
    for (const remote of delivered) {
      const result = applyRemoteHead(this.innerStore, remote.publisher, remote.head, remote.branchId);
      this.lastEvent = remote.receivedAt;
      this.events.onApplied?.(remote, result);
    }
  }

  /**
   * One pass over the branches per branch change of the inner store: with a store that offers
   * `branchVersion`, reads and puts between commits cost O(1) here (plus announcing new blobs).
   */
  private publishChanges(): void {
    if (this.direction === "readonly") return;
    const reader = this.innerStore.reader();
    const version = this.innerStore.branchVersion?.();
    if (version !== undefined && version === this.publishedVersion) {
      this.announceNewBlobs(reader);
      return;
    }
    const seen = new Set<bigint>();
    for (const id of this.innerStore.branches()) {
      const key = branchKey(id);
      seen.add(key);
      const head = this.innerStore.head(id);
      if (!head) continue;
      const last = this.published.get(key);
      if (last && bytesEqual(last, head)) continue;
      this.published.set(key, head);
      if (this.isTracking(head, reader)) continue;
      this.net.publishHead(id, head);
      this.events.onPublished?.(id, head);
    }
    if (seen.size !== this.published.size) for (const key of this.published.keys()) if (!seen.has(key)) this.published.delete(key);
    this.announceNewBlobs(reader);
    this.publishedVersion = version;
  }

  private announceNewBlobs(reader: BlobReader): void {
    if (reader.len === this.announcedLen) return;
    const fresh: Hash[] = [];
    const listFrom = (reader as { listFrom?: (n: number) => Iterable<Hash> }).listFrom;
    const source = listFrom ? listFrom.call(reader, this.announcedLen) : reader.list();
    let skip = listFrom ? 0 : this.announcedLen;
    for (const h of source) {
      if (skip > 0) {
        skip--;
        continue;
      }
      fresh.push(h);
    }
    this.announcedLen = reader.len;
    if (fresh.length) this.net.announce(fresh);
  }

  /** Tracking branches are never re-published (their metadata names a remote branch). */
  private isTracking(metaHandle: Hash, reader: BlobReader): boolean {
    const known = this.metaSeen.find(metaHandle);
    if (known >= 0) return this.metaIsTracking[known] === 1;
    const bytes = reader.get(metaHandle);
    let tracking = false;
    if (bytes) {
      try {
        tracking = decodeSimpleArchive(bytes).find({ a: TRACKING_REMOTE_BRANCH }).length > 0;
      } catch {
        tracking = false; // unreadable metadata is published as it is; receivers judge it
      }
    }
    const entry = this.metaSeen.append(metaHandle);
    if (entry >= this.metaIsTracking.length) {
      const grown = new Uint8Array(this.metaIsTracking.length * 2);
      grown.set(this.metaIsTracking);
      this.metaIsTracking = grown;
    }
    this.metaIsTracking[entry] = tracking ? 1 : 0;
    return tracking;
  }

  /** Re-gossips every local, non-tracking branch head (e.g. when a peer joins). */
  republishAll(): void {
    this.published.clear();
    this.publishedVersion = undefined;
    this.publishChanges();
  }

  reader(): BlobReader {
    this.refresh();
    return this.innerStore.reader();
  }

  put(bytes: Uint8Array): Hash {
    const h = this.innerStore.put(bytes);
    this.publishChanges();
    return h;
  }

  putMany(blobs: readonly Uint8Array[]): Hash[] {
    const hashes = this.innerStore.putMany(blobs);
    this.publishChanges();
    return hashes;
  }

  putVerified(blobs: readonly Uint8Array[], hashes: readonly Hash[]): void {
    this.innerStore.putVerified(blobs, hashes);
    this.publishChanges();
  }

  branches(): BranchId[] {
    this.refresh();
    return this.innerStore.branches();
  }

  head(id: BranchId): Hash | null {
    this.refresh();
    return this.innerStore.head(id);
  }

  update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult {
    const result = this.innerStore.update(id, expected, next);
    if (result.ok) this.publishChanges();
    return result;
  }
}
