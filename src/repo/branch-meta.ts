/**
 * Branch-metadata blobs (FORMATS §7.2, §7.5). The pile's branch record points at one of these;
 * it names the branch, its head commit, when it was updated, and who signed the head. Tracking
 * branches (local mirrors of a remote branch) use the same blob shape with remote attributes.
 */
import { encodeSimpleArchive } from "../core/archive.ts";
import { hash } from "../core/blake3.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { intrinsicEntity, type Pair } from "../core/entity.ts";
import type { Id } from "../core/id.ts";
import { decodeLongString, encodeLongString } from "../core/longstring.ts";
import { METADATA_NAME, METADATA_UPDATED_AT } from "../core/metadata.ts";
import { genIdFromValue, genIdValue, intervalFromValue, nowTaiNs, pointInterval, signatureRValue, signatureSValue } from "../core/schemas.ts";
import type { Hash } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { REPO_BRANCH, REPO_HEAD, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY, TRACKING_PEER, TRACKING_REMOTE_BRANCH, TRACKING_REMOTE_NAME } from "./attributes.ts";
import { decodeArchive, parseOrThrow } from "./archive-read.ts";
import { RepoError } from "./errors.ts";
import { verifyAnchoredSignature } from "./signature.ts";

export interface BuiltMeta {
  handle: Hash;
  bytes: Uint8Array;
  /** Blobs to store: the name blob (when built from a name string) and the metadata blob. */
  blobs: Uint8Array[];
}

export interface BranchMetaOptions {
  branchId: Id;
  /**
   * The branch name, or the handle of its LongString blob when it is already stored (pushes reuse
   * the handle from the previous metadata, as the reference does, instead of re-encoding text).
   */
  name: string | { handle: Hash };
  /** Head commit and its bytes (the signature covers them). Absent for an empty branch. */
  head?: { handle: Hash; bytes: Uint8Array };
  /** Signs the head; required when `head` is given. */
  key?: SigningKey;
  timestampNs?: bigint;
}

/**
 * Branch metadata: signed (`branch_metadata`) when it has a head, else the unsigned form
 * (`branch_unsigned`) — the reference produces identical bytes for both when there is no head.
 */
export function buildBranchMeta(opts: BranchMetaOptions): BuiltMeta {
  const nameBytes = typeof opts.name === "string" ? encodeLongString(opts.name) : undefined;
  const nameHandle = nameBytes ? hash(nameBytes) : (opts.name as { handle: Hash }).handle;
  const pairs: Pair[] = [
    [REPO_BRANCH, genIdValue(opts.branchId)],
    [METADATA_NAME, nameHandle],
    [METADATA_UPDATED_AT, pointInterval(opts.timestampNs ?? nowTaiNs())],
  ];
  if (opts.head) {
    if (!opts.key) throw new Error("a branch head must be signed: no signing key given");
    const sig = opts.key.sign(opts.head.bytes);
    pairs.push([REPO_HEAD, opts.head.handle], [REPO_SIGNED_BY, opts.key.publicKey], [REPO_SIGNATURE_R, signatureRValue(sig)], [REPO_SIGNATURE_S, signatureSValue(sig)]);
  }
  const bytes = encodeSimpleArchive(intrinsicEntity(pairs).set);
  return { handle: hash(bytes), bytes, blobs: nameBytes ? [nameBytes, bytes] : [bytes] };
}

/** Options of a tracking branch's metadata (FORMATS §7.5); the reference writes the same pairs. */
export interface TrackingMetaOptions {
  trackingId: Id;
  remoteBranch: Id;
  remotePeer: Uint8Array;
  remoteName: Hash;
  head?: Hash;
  updatedAt?: Uint8Array;
}

/** Metadata of a local tracking branch mirroring (remote peer, remote branch). */
export function buildTrackingMeta(opts: TrackingMetaOptions): BuiltMeta {
  const pairs: Pair[] = [
    [REPO_BRANCH, genIdValue(opts.trackingId)],
    [TRACKING_REMOTE_NAME, opts.remoteName],
    [TRACKING_REMOTE_BRANCH, genIdValue(opts.remoteBranch)],
    [TRACKING_PEER, opts.remotePeer],
  ];
  if (opts.head) pairs.push([REPO_HEAD, opts.head]);
  if (opts.updatedAt) pairs.push([METADATA_UPDATED_AT, opts.updatedAt]);
  const bytes = encodeSimpleArchive(intrinsicEntity(pairs).set);
  return { handle: hash(bytes), bytes, blobs: [bytes] };
}

export interface BranchMeta {
  branchId: Id;
  name?: Hash;
  head?: Hash;
  signedBy?: Uint8Array;
  /** Raw updated_at value and its lower bound (TAI ns). */
  updatedAt?: { value: Uint8Array; lower: bigint };
  /** Present on tracking branches only. */
  tracking?: { remoteBranch: Id; remotePeer: Uint8Array; remoteName: Hash };
}

/** Parses a branch-metadata blob; anything malformed is a clear "bad-blob" RepoError. */
export function parseBranchMeta(bytes: Uint8Array): BranchMeta {
  const set = decodeArchive(bytes, "bad branch metadata");
  return parseOrThrow("bad branch metadata", () => parseMetaSet(set));
}

function parseMetaSet(set: TribleSet): BranchMeta {
  const entities = set.entitiesWith(REPO_BRANCH);
  if (entities.length !== 1) throw new Error(`expected one branch entity, found ${entities.length}`);
  const e = entities[0]!;
  const one = (attr: Uint8Array, what: string) => set.optionalValue(e, attr, what, "bad branch metadata");
  const meta: BranchMeta = { branchId: genIdFromValue(one(REPO_BRANCH, "branch")!) };
  const name = one(METADATA_NAME, "name");
  const head = one(REPO_HEAD, "head");
  const signedBy = one(REPO_SIGNED_BY, "signed_by");
  const updated = one(METADATA_UPDATED_AT, "updated_at");
  if (name) meta.name = name;
  if (head) meta.head = head;
  if (signedBy) meta.signedBy = signedBy;
  if (updated) meta.updatedAt = { value: updated, lower: intervalFromValue(updated).lower };
  const remoteBranch = one(TRACKING_REMOTE_BRANCH, "tracking_remote_branch");
  if (remoteBranch) {
    const peer = one(TRACKING_PEER, "tracking_peer");
    const remoteName = one(TRACKING_REMOTE_NAME, "remote_name");
    if (!peer || !remoteName) throw new Error("tracking metadata without a peer or remote name");
    meta.tracking = { remoteBranch: genIdFromValue(remoteBranch), remotePeer: peer, remoteName };
  }
  return meta;
}

/** Verifies the head signature of branch metadata over the head commit's bytes; returns the signer. */
export function verifyBranchMeta(metaBytes: Uint8Array, headCommitBytes: Uint8Array): Uint8Array {
  const meta = parseBranchMeta(metaBytes);
  if (!meta.head) throw new RepoError("branch metadata has no head to verify", "bad-blob");
  return verifyAnchoredSignature(decodeArchive(metaBytes, "bad branch metadata"), REPO_HEAD, meta.head, headCommitBytes, "branch metadata");
}

/**
 * What a metadata blob says of its branch, for tools that read raw piles (`diagnose`): its name
 * (when the name blob is there and reads), or why the blob is not branch metadata.
 */
export function describeMetaBlob(bytes: Uint8Array, blob: (hash: Hash) => Uint8Array | undefined): { name?: string; problem?: string } {
  let meta: BranchMeta;
  try {
    meta = parseBranchMeta(bytes);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  const nameHandle = meta.tracking?.remoteName ?? meta.name;
  try {
    const nameBytes = nameHandle ? blob(nameHandle) : undefined;
    return nameBytes ? { name: decodeLongString(nameBytes) } : {};
  } catch {
    // An unreadable name leaves the metadata readable; the branch just has no name to show.
    return {};
  }
}

/**
 * True when branch metadata names a head but carries no signature at all (no signed_by, no
 * signature_r, no signature_s): the reference's `branch_unsigned` with a head. Unreadable bytes,
 * metadata without a head, and a partial signature are not "unsigned".
 */
export function isUnsignedHead(metaBytes: Uint8Array): boolean {
  let set: TribleSet;
  try {
    set = decodeArchive(metaBytes, "branch metadata");
  } catch {
    return false;
  }
  return set.find({ a: REPO_HEAD }).length > 0 && [REPO_SIGNED_BY, REPO_SIGNATURE_R, REPO_SIGNATURE_S].every((a) => set.find({ a }).length === 0);
}

/**
 * True when a metadata blob describes a tracking branch (it has a `tracking_remote_branch`
 * triple, as the reference tests). Tracking branches are local state: never publish them.
 * Unreadable bytes are not a tracking branch.
 */
export function isTrackingMeta(metaBytes: Uint8Array): boolean {
  try {
    return decodeArchive(metaBytes, "branch metadata").find({ a: TRACKING_REMOTE_BRANCH }).length > 0;
  } catch {
    return false;
  }
}
