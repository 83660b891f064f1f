/**
 * Proof of possession for fetched heads (possession.ts), as a sync node applies it: which
 * publisher's heads need it, what its tracking branch already proved, and the check itself.
 */
import type { PeerId } from "@libp2p/interface";
import { branchesReadScope, NO_READ_SCOPE, type ReadScope } from "../../auth/scope.ts";
import { bytesEqual, toHex } from "../../core/bytes.ts";
import type { HashIndex } from "../../core/hash-index.ts";
import type { Store } from "../../core/store.ts";
import { parseBranchMeta } from "../../repo/branch-meta.ts";
import { Repository } from "../../repo/repository.ts";
import { findTrackingBranch } from "../../repo/tracking.ts";
import type { SyncClient } from "../client.ts";
import { peerIdFromKey } from "../peer-key.ts";
import type { RemoteHead } from "../peer.ts";
import { checkPossession, eitherScope } from "../possession.ts";
import type { NodeLife } from "./life.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("node:possession");

export class PossessionGate {
  /** Closures of branch-limited publishers' tracking branches, by tracking id (see trackedScope). */
  private readonly trackedScopes = new Map<string, ReadScope>();

  constructor(
    private readonly store: Store,
    private readonly life: NodeLife,
    private readonly readScopeOf: ((publisher: Uint8Array) => ReadScope | null) | undefined,
    private readonly clientFor: (peer: PeerId) => Promise<SyncClient>,
  ) {}

  /** The publisher's read scope on our store: undefined when no check is configured, null when it reads nothing. */
  readScope(publisher: Uint8Array): ReadScope | null | undefined {
    return this.readScopeOf ? this.readScopeOf(publisher) : undefined;
  }

  /** Whether heads of this publisher are delivered without a check. */
  unchecked(publisher: Uint8Array): boolean {
    const scope = this.readScope(publisher);
    return scope === undefined || scope?.unrestricted === true;
  }

  /**
   * Proof of possession for a head whose closure is stored, `own` being what its publisher
   * delivered: how many blobs it had to prove when the head may be delivered; otherwise null,
   * reporting "head-refused" (not retried: the same head fails the same way until the publisher
   * can produce the blobs).
   */
  async possessed(remote: RemoteHead, own: HashIndex | null): Promise<number | null> {
    const scope = this.readScope(remote.publisher);
    if (scope === undefined || scope?.unrestricted) return 0;
    const publisher = peerIdFromKey(remote.publisher);
    const result = await checkPossession({
      head: remote.head,
      reader: this.store.reader(),
      scope: eitherScope(scope ?? NO_READ_SCOPE, this.trackedScope(remote)),
      delivered: own,
      publisher: () => this.clientFor(publisher),
    }).catch((err: Error) => ({ ok: false as const, reason: `could not reach it to ask for blobs its head references: ${err.message}` }));
    if (result.ok) return result.proven;
    this.life.emit({ type: "head-refused", publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head), reason: result.reason });
    return null;
  }

  /**
   * Whether our tracking branch of this (publisher, branch) already names the head commit of a
   * head we hold: it passed the checks when it moved there, and nothing new enters.
   */
  alreadyTracked(remote: RemoteHead): boolean {
    try {
      const bytes = this.store.reader().get(remote.head);
      const commit = bytes ? parseBranchMeta(bytes).head : undefined;
      const tracked = findTrackingBranch(new Repository(this.store), remote.publisher, remote.branchId)?.meta.head;
      return commit !== undefined && tracked !== undefined && bytesEqual(commit, tracked);
    } catch (err) {
      log("unreadable head or tracking branch (proof of possession then decides): %s", describe(err));
      return false;
    }
  }

  /**
   * The closure of our tracking branch of (publisher, branch): blobs that passed proof of
   * possession (or came from it) when it moved, so a new head need not prove its history again
   * (with --no-merge, or a refused merge, it is not in the publisher's read scope). One incremental
   * index per tracking branch, for branch-limited publishers only.
   */
  private trackedScope(remote: RemoteHead): ReadScope {
    const tracking = findTrackingBranch(new Repository(this.store), remote.publisher, remote.branchId);
    if (!tracking) return NO_READ_SCOPE;
    const key = toHex(tracking.id);
    let index = this.trackedScopes.get(key);
    if (!index) {
      index = branchesReadScope(this.store, [tracking.id]);
      this.trackedScopes.set(key, index);
    }
    return index;
  }
}
