/**
 * Commits (FORMATS §7.1): one intrinsic entity per commit blob. Authored commits carry content,
 * message, metadata, timestamp and an Ed25519 signature over the raw content archive; merge
 * commits carry only parents, so two peers merging the same heads create the same blob.
 */
import { decodeSimpleArchive, encodeSimpleArchive } from "../core/archive.ts";
import { hash } from "../core/blake3.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { intrinsicEntity, type Pair } from "../core/entity.ts";
import { encodeLongString } from "../core/longstring.ts";
import { METADATA_CREATED_AT } from "../core/metadata.ts";
import { intervalFromValue, nowTaiNs, pointInterval, signatureRValue, signatureSValue } from "../core/schemas.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { REPO_CONTENT, REPO_MESSAGE, REPO_METADATA, REPO_PARENT, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "./attributes.ts";
import { verifyAnchoredSignature } from "./signature.ts";

/** Blobs to store for a new commit, children first; `handle` is the commit blob's hash. */
export interface BuiltCommit {
  handle: Hash;
  bytes: Uint8Array;
  /** All blobs the commit needs (content, message, metadata, then the commit itself). */
  blobs: Uint8Array[];
}

export interface CommitOptions {
  key: SigningKey;
  content: TribleSet;
  parents: Hash[];
  message?: string;
  /** Repository commit-metadata set; defaults to the empty set, as the reference's workspace does. */
  metadata?: TribleSet;
  /** TAI nanoseconds; defaults to now. */
  timestampNs?: bigint;
}

export function buildCommit(opts: CommitOptions): BuiltCommit {
  const contentBytes = encodeSimpleArchive(opts.content);
  const contentHandle = hash(contentBytes);
  const metadataBytes = encodeSimpleArchive(opts.metadata ?? new TribleSet());
  const signature = opts.key.sign(contentBytes);
  const blobs = [contentBytes, metadataBytes];
  const pairs: Pair[] = [
    [METADATA_CREATED_AT, pointInterval(opts.timestampNs ?? nowTaiNs())],
    [REPO_CONTENT, contentHandle],
    [REPO_SIGNED_BY, opts.key.publicKey],
    [REPO_SIGNATURE_R, signatureRValue(signature)],
    [REPO_SIGNATURE_S, signatureSValue(signature)],
    [REPO_METADATA, hash(metadataBytes)],
    ...opts.parents.map((p): Pair => [REPO_PARENT, p]),
  ];
  if (opts.message !== undefined) {
    const messageBytes = encodeLongString(opts.message);
    blobs.push(messageBytes);
    pairs.push([REPO_MESSAGE, hash(messageBytes)]);
  }
  const bytes = encodeSimpleArchive(intrinsicEntity(pairs).set);
  blobs.push(bytes);
  return { handle: hash(bytes), bytes, blobs };
}

/** A merge commit: parents only, no timestamp or signature (content-addressed). */
export function buildMergeCommit(parents: Hash[]): BuiltCommit {
  if (parents.length < 2) throw new Error("a merge commit needs at least two parents");
  const bytes = encodeSimpleArchive(intrinsicEntity(parents.map((p): Pair => [REPO_PARENT, p])).set);
  return { handle: hash(bytes), bytes, blobs: [bytes] };
}

export interface CommitInfo {
  content?: Hash;
  parents: Hash[];
  message?: Hash;
  metadata?: Hash;
  author?: Uint8Array;
  /** Lower bound of created_at, TAI ns. */
  createdAt?: bigint;
}

/** Parses a commit blob (throws a clear error if it is not one). */
export function parseCommit(bytes: Uint8Array): CommitInfo {
  const set = decodeSimpleArchive(bytes);
  const entities = new Set<string>();
  for (const t of set) entities.add(String.fromCharCode(...t.subarray(0, 16)));
  if (entities.size !== 1) throw new Error(`not a commit: expected one entity, found ${entities.size}`);
  const first = set.bytes().subarray(0, 16);
  const one = (attr: Uint8Array, what: string) => set.optionalValue(first, attr, what, "not a commit");
  const created = one(METADATA_CREATED_AT, "created_at");
  const info: CommitInfo = { parents: set.values(first, REPO_PARENT).map((v) => v.slice()) };
  const content = one(REPO_CONTENT, "content");
  const message = one(REPO_MESSAGE, "message");
  const metadata = one(REPO_METADATA, "metadata");
  const author = one(REPO_SIGNED_BY, "signed_by");
  if (content) info.content = content;
  if (message) info.message = message;
  if (metadata) info.metadata = metadata;
  if (author) info.author = author;
  if (created) info.createdAt = intervalFromValue(created).lower;
  if (!content && info.parents.length === 0) throw new Error("not a commit: no content and no parents");
  return info;
}

/**
 * Verifies an authored commit's signature over its content blob and returns the author's key;
 * returns null for a merge commit (which is unsigned by design).
 */
export function verifyCommit(commitBytes: Uint8Array, contentBytes: Uint8Array | undefined): Uint8Array | null {
  const info = parseCommit(commitBytes);
  if (!info.content) return null;
  if (!contentBytes) throw new Error("commit content blob is missing");
  return verifyAnchoredSignature(decodeSimpleArchive(commitBytes), REPO_CONTENT, info.content, contentBytes, "commit");
}
