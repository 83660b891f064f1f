/**
 * Tracking branches (FORMATS §7.5): a local mirror of (remote peer, remote branch) under a fresh
 * local id. Their metadata carries `remote_name` instead of `metadata::name`, so name lookups
 * never see them, and they are never published. The network layer calls `applyRemoteHead` once a
 * remote head's blobs are in the store.
 *
 * Beyond the reference (DESIGN "Where we go beyond the reference"): the remote branch metadata's
 * signature and the head commit's signature are verified before a tracking branch moves. As in the
 * reference, an update whose updated_at is not strictly newer than the one held is dropped (§7.4).
 * The reference keys tracking branches by remote branch id alone; we key them by (peer, branch),
 * so one peer cannot move the mirror of another peer's branch. A head is taken only as the branch
 * it was announced as: the metadata's branch id must equal the id of the HEAD frame (which the
 * publisher's write capability was checked against), else nothing moves.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import { genId, type Id } from "../core/id.ts";
import { decodeLongString } from "../core/longstring.ts";
import type { BranchId, Hash, Store } from "../core/store.ts";
import { type BranchMeta, buildTrackingMeta, isTrackingMeta, parseBranchMeta, verifyBranchMeta } from "./branch-meta.ts";
import { verifyOne } from "./history.ts";
import { type BranchInfo, Repository } from "./repository.ts";

/** What applying a remote head to its tracking branch did. */
export type TrackingResult =
  /** The tracking branch was created or moved; `signer` signed the remote head. */
  | { status: "applied"; trackingId: Id; name: string; head: Hash | null; remoteBranch: Id; signer: Uint8Array | null }
  /**
   * Dropped: not strictly newer than what we hold ("unchanged" when it names the same head).
   * `head`: the head the tracking branch holds.
   */
  | { status: "stale" | "unchanged"; trackingId: Id; name: string; remoteBranch: Id; head: Hash | null }
  /** Refused: missing blobs, malformed metadata, or a bad signature; nothing moved. */
  | { status: "rejected"; reason: string };

/** CAS attempts against a concurrent writer of the same tracking branch before giving up. */
const TRACKING_CAS_ATTEMPTS = 8;

/** True for tracking-branch metadata (parsed, or raw blob bytes). Never publish such a branch. */
export function isTrackingBranch(meta: BranchMeta | Uint8Array): boolean {
  return meta instanceof Uint8Array ? isTrackingMeta(meta) : meta.tracking !== undefined;
}

/** True when the store's branch `id` is a tracking branch. */
export function isTrackingBranchId(store: Store, id: BranchId): boolean {
  const head = store.head(id);
  const bytes = head ? store.reader().get(head) : undefined;
  return bytes ? isTrackingMeta(bytes) : false;
}

/** All tracking branches in the repository. */
export function listTrackingBranches(repo: Repository): BranchInfo[] {
  return repo.listBranches().filter((b) => b.tracking);
}

/** The tracking branch for (remote peer, remote branch), if any. */
export function findTrackingBranch(repo: Repository, remotePeer: Uint8Array, remoteBranch: Id): BranchInfo | undefined {
  return listTrackingBranches(repo).find((b) => bytesEqual(b.meta.tracking!.remotePeer, remotePeer) && bytesEqual(b.meta.tracking!.remoteBranch, remoteBranch));
}

/**
 * Moves (or creates) the tracking branch of `remotePeer`'s branch described by the metadata blob
 * `remoteMetaHandle`, whose closure must already be in `store`. Verifies before moving.
 * `announcedBranch` is the branch id the head arrived under (the HEAD frame's, or the HEADS
 * reply's): metadata naming another branch is refused.
 */
export function applyRemoteHead(store: Store, remotePeer: Uint8Array, remoteMetaHandle: Hash, announcedBranch: BranchId): TrackingResult {
  const checked = checkRemoteHead(store, remoteMetaHandle);
  if ("reason" in checked) return { status: "rejected", reason: checked.reason };
  const { meta, name, signer } = checked;
  if (!bytesEqual(meta.branchId, announcedBranch)) {
    return { status: "rejected", reason: `announced as branch ${toHex(announcedBranch)} but its metadata is branch ${toHex(meta.branchId)} ("${name}")` };
  }
  const repo = new Repository(store);
  for (let attempt = 0; attempt < TRACKING_CAS_ATTEMPTS; attempt++) {
    const existing = findTrackingBranch(repo, remotePeer, meta.branchId);
    const trackingId = existing?.id ?? genId();
    const held = existing?.meta.updatedAt;
    if (held && meta.updatedAt && meta.updatedAt.lower <= held.lower) {
      const same = existing.meta.head && meta.head && bytesEqual(existing.meta.head, meta.head);
      return { status: same ? "unchanged" : "stale", trackingId, name, remoteBranch: meta.branchId, head: existing.meta.head ?? null };
    }
    const tracking = buildTrackingMeta({
      trackingId,
      remoteBranch: meta.branchId,
      remotePeer,
      remoteName: meta.name!,
      ...(meta.head ? { head: meta.head } : {}),
      ...(meta.updatedAt ? { updatedAt: meta.updatedAt.value } : {}),
    });
    store.putMany(tracking.blobs);
    if (store.update(trackingId, existing?.metaHandle ?? null, tracking.handle).ok) {
      return { status: "applied", trackingId, name, head: meta.head ?? null, remoteBranch: meta.branchId, signer };
    }
  }
  return { status: "rejected", reason: "the tracking branch kept changing under us" };
}

/** Reads and verifies a remote branch-metadata blob and its head commit. */
function checkRemoteHead(store: Store, metaHandle: Hash): { meta: BranchMeta; name: string; signer: Uint8Array | null } | { reason: string } {
  const reader = store.reader();
  try {
    const metaBytes = reader.get(metaHandle);
    if (!metaBytes) return { reason: `branch metadata ${toHex(metaHandle)} is not in the store` };
    const meta = parseBranchMeta(metaBytes);
    if (meta.tracking) return { reason: "the remote published a tracking branch" };
    if (!meta.name) return { reason: "the remote branch metadata has no name" };
    const nameBytes = reader.get(meta.name);
    if (!nameBytes) return { reason: "the remote branch name blob is missing" };
    const name = decodeLongString(nameBytes);
    if (!meta.head) return { meta, name, signer: null };
    const commitBytes = reader.get(meta.head);
    if (!commitBytes) return { reason: `the head commit of remote branch "${name}" is missing` };
    try {
      const signer = verifyBranchMeta(metaBytes, commitBytes);
      verifyOne(reader, meta.head);
      return { meta, name, signer };
    } catch (err) {
      return { reason: `bad signature on remote branch "${name}": ${(err as Error).message}` };
    }
  } catch (err) {
    return { reason: (err as Error).message };
  }
}
