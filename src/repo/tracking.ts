/**
 * Tracking branches (FORMATS §7.5): a local mirror of (remote peer, remote branch). The network
 * layer calls `applyRemoteHead` once a remote head's closure is in the store. Unlike the reference,
 * we verify the branch-metadata and commit signatures before a tracking branch moves, and apply the
 * freshness rule: an update whose updated_at is not strictly newer is dropped.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import { genId, type Id } from "../core/id.ts";
import { decodeLongString } from "../core/longstring.ts";
import type { Hash, Store } from "../core/store.ts";
import { buildTrackingMeta, parseBranchMeta, verifyBranchMeta } from "./branch-meta.ts";
import { parseCommit, verifyCommit } from "./commit.ts";
import { type BranchInfo, Repository } from "./repository.ts";

export type TrackingResult =
  | { status: "applied"; trackingId: Id; name: string; head: Hash | null; remoteBranch: Id }
  | { status: "stale" | "unchanged"; trackingId: Id; name: string; remoteBranch: Id }
  | { status: "rejected"; reason: string };

/** Finds the tracking branch for (remote peer, remote branch), if any. */
export function findTrackingBranch(repo: Repository, remotePeer: Uint8Array, remoteBranch: Id): BranchInfo | undefined {
  return repo
    .listBranches()
    .find((b) => b.meta.tracking && bytesEqual(b.meta.tracking.remotePeer, remotePeer) && bytesEqual(b.meta.tracking.remoteBranch, remoteBranch));
}

/** Moves (or creates) the tracking branch of a remote head whose blobs are already in `store`. */
export function applyRemoteHead(store: Store, remotePeer: Uint8Array, remoteMetaHandle: Hash): TrackingResult {
  const reader = store.reader();
  const metaBytes = reader.get(remoteMetaHandle);
  if (!metaBytes) return { status: "rejected", reason: `branch metadata ${toHex(remoteMetaHandle)} is not in the store` };
  let meta: ReturnType<typeof parseBranchMeta>;
  try {
    meta = parseBranchMeta(metaBytes);
  } catch (err) {
    return { status: "rejected", reason: (err as Error).message };
  }
  if (meta.tracking) return { status: "rejected", reason: "remote published a tracking branch" };
  if (!meta.name) return { status: "rejected", reason: "remote branch metadata has no name" };
  const nameBytes = reader.get(meta.name);
  if (!nameBytes) return { status: "rejected", reason: "remote branch name blob is missing" };
  const name = decodeLongString(nameBytes);
  if (meta.head) {
    const commitBytes = reader.get(meta.head);
    if (!commitBytes) return { status: "rejected", reason: "remote head commit is missing" };
    try {
      verifyBranchMeta(metaBytes, commitBytes);
      verifyCommitChainHead(commitBytes, reader);
    } catch (err) {
      return { status: "rejected", reason: `bad signature on remote branch "${name}": ${(err as Error).message}` };
    }
  }

  const repo = new Repository(store);
  for (let attempt = 0; attempt < 8; attempt++) {
    const existing = findTrackingBranch(repo, remotePeer, meta.branchId);
    const trackingId = existing?.id ?? genId();
    if (existing) {
      const held = existing.meta.updatedAt;
      if (held && meta.updatedAt && meta.updatedAt.lower <= held.lower) {
        const same = existing.meta.head && meta.head && bytesEqual(existing.meta.head, meta.head);
        return { status: same ? "unchanged" : "stale", trackingId, name, remoteBranch: meta.branchId };
      }
    }
    const tracking = buildTrackingMeta({
      trackingId,
      remoteBranch: meta.branchId,
      remotePeer,
      remoteName: meta.name,
      ...(meta.head ? { head: meta.head } : {}),
      ...(meta.updatedAt ? { updatedAt: meta.updatedAt.value } : {}),
    });
    store.putMany(tracking.blobs);
    if (store.update(trackingId, existing?.metaHandle ?? null, tracking.handle).ok) {
      return { status: "applied", trackingId, name, head: meta.head ?? null, remoteBranch: meta.branchId };
    }
  }
  return { status: "rejected", reason: "tracking branch kept changing under us" };
}

/** Verifies the head commit's own signature (authored commits) with its content from the store. */
function verifyCommitChainHead(commitBytes: Uint8Array, reader: { get(h: Hash): Uint8Array | undefined }): void {
  const content = parseCommit(commitBytes).content;
  verifyCommit(commitBytes, content ? reader.get(content) : undefined);
}
