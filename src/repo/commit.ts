/**
 * Commits (FORMATS §7.1): one intrinsic entity per commit blob. Authored commits carry content,
 * message, metadata, timestamp and an Ed25519 signature over the raw content archive; merge
 * commits carry only parents, so two peers merging the same heads create the same blob.
 */
import { encodeSimpleArchive } from "../core/archive.ts";
import { hash } from "../core/blake3.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { intrinsicEntity, type Pair } from "../core/entity.ts";
import { encodeLongString } from "../core/longstring.ts";
import { METADATA_CREATED_AT } from "../core/metadata.ts";
import { intervalFromValue, nowTaiNs, pointInterval, signatureRValue, signatureSValue } from "../core/schemas.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { decodeArchive, parseOrThrow } from "./archive-read.ts";
import { REPO_CONTENT, REPO_MESSAGE, REPO_METADATA, REPO_PARENT, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "./attributes.ts";
import { RepoError } from "./errors.ts";
import { verifyAnchoredSignature } from "./signature.ts";

/** A new commit: its blob, its handle, and every blob it needs stored (children first, commit last). */
export interface BuiltCommit {
  handle: Hash;
  bytes: Uint8Array;
  blobs: Uint8Array[];
}

export interface CommitOptions {
  key: SigningKey;
  content: TribleSet;
  parents: readonly Hash[];
  /** Stored as a LongString blob; the reference's workspace always gives one. */
  message?: string;
  /** The repository's commit-metadata set; the reference's workspace passes the empty set by default. */
  metadata?: TribleSet;
  /** created_at in TAI nanoseconds; defaults to now. Tests inject it to reproduce fixed vectors. */
  timestampNs?: bigint;
}

export function buildCommit(opts: CommitOptions): BuiltCommit {
  const contentBytes = encodeSimpleArchive(opts.content);
  const metadataBytes = encodeSimpleArchive(opts.metadata ?? new TribleSet());
  // The signature covers the content archive itself, so it verifies without the commit blob.
  const signature = opts.key.sign(contentBytes);
  const blobs = [contentBytes, metadataBytes];
  const pairs: Pair[] = [
    [METADATA_CREATED_AT, pointInterval(opts.timestampNs ?? nowTaiNs())],
    [REPO_CONTENT, hash(contentBytes)],
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

/**
 * A merge commit: parents only — no timestamp, message or signature — so it is a pure function
 * of its parent set (order does not matter: the entity id and the archive are both sorted).
 */
export function buildMergeCommit(parents: readonly Hash[]): BuiltCommit {
  if (parents.length < 2) throw new Error("a merge commit needs at least two parents");
  const bytes = encodeSimpleArchive(intrinsicEntity(parents.map((p): Pair => [REPO_PARENT, p])).set);
  return { handle: hash(bytes), bytes, blobs: [bytes] };
}

export interface CommitInfo {
  /** Handle of the content archive; absent on merge commits. */
  content?: Hash;
  parents: readonly Hash[];
  /** Handle of the LongString message blob. */
  message?: Hash;
  metadata?: Hash;
  /** The signing key (the author), on authored commits. */
  author?: Uint8Array;
  /** Lower bound of created_at, TAI ns. */
  createdAt?: bigint;
}

/** Parses a commit blob; anything that is not a commit is a clear "bad-blob" RepoError. */
export function parseCommit(bytes: Uint8Array): CommitInfo {
  const set = decodeArchive(bytes, "not a commit");
  return parseOrThrow("not a commit", () => {
    const entities = set.entities();
    if (entities.length !== 1) throw new Error(`expected one entity, found ${entities.length}`);
    const e = entities[0]!;
    const one = (attr: Uint8Array, what: string) => set.optionalValue(e, attr, what, "bad commit");
    const info: CommitInfo = { parents: set.values(e, REPO_PARENT).map((v) => v.slice()) };
    const content = one(REPO_CONTENT, "content");
    const message = one(REPO_MESSAGE, "message");
    const metadata = one(REPO_METADATA, "metadata");
    const author = one(REPO_SIGNED_BY, "signed_by");
    const created = one(METADATA_CREATED_AT, "created_at");
    if (content) info.content = content;
    if (message) info.message = message;
    if (metadata) info.metadata = metadata;
    if (author) info.author = author;
    if (created) info.createdAt = intervalFromValue(created).lower;
    if (!content && info.parents.length === 0) throw new Error("no content and no parents");
    return info;
  });
}

/**
 * Verifies an authored commit's signature over its content blob and returns the author's key;
 * returns null for a merge commit (unsigned by design). Throws SignatureError when it fails.
 */
export function verifyCommit(commitBytes: Uint8Array, contentBytes: Uint8Array | undefined): Uint8Array | null {
  const info = parseCommit(commitBytes);
  if (!info.content) return null;
  if (!contentBytes) throw new RepoError("commit content blob is missing", "missing-blob");
  return verifyAnchoredSignature(decodeArchive(commitBytes, "not a commit"), REPO_CONTENT, info.content, contentBytes, "commit");
}
