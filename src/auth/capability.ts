/**
 * Capabilities (FORMATS §8): a cap blob says "issuer grants subject these permissions on these
 * branches until expiry"; a sig blob signs it; delegated caps embed their parent's signature so a
 * chain verifies from the leaf up to the team root. Revocations are signed blobs naming a key.
 */
import { decodeSimpleArchive, encodeSimpleArchive } from "../core/archive.ts";
import { hash } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { intrinsicEntity, type Pair } from "../core/entity.ts";
import { type Id, ufoId } from "../core/id.ts";
import { METADATA_CREATED_AT, METADATA_EXPIRES_AT, METADATA_TAG } from "../core/metadata.ts";
import { genIdFromValue, genIdValue, intervalFromValue, intervalValue, nowTaiNs, pointInterval, signatureRValue, signatureSValue } from "../core/schemas.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "../repo/attributes.ts";
import { verifyAnchoredSignature } from "../repo/signature.ts";
import {
  CAP_EMBEDDED_PARENT_SIG,
  CAP_ISSUER,
  CAP_PARENT,
  CAP_SCOPE_ROOT,
  CAP_SUBJECT,
  MAX_CHAIN_DEPTH,
  PERM_ADMIN,
  PERM_READ,
  PERM_WRITE,
  PERMISSION_TAGS,
  type Permission,
  REV_TARGET,
  SCOPE_BRANCH,
  SIG_SIGNS,
} from "./attributes.ts";

export const DAY_NS = 86_400n * 1_000_000_000n;

/** A signed grant or revocation: the blob, its signature blob, and both handles (present the signature's). */
export interface SignedBlob {
  blob: Uint8Array;
  handle: Hash;
  sigBlob: Uint8Array;
  sigHandle: Hash;
}

/** Signs `blob` with the sig-blob shape (sig_signs, signed_by, signature_r, signature_s). */
export function signBlob(key: SigningKey, blob: Uint8Array): { sigBlob: Uint8Array; sigHandle: Hash; sigId: Id } {
  const sig = key.sign(blob);
  const entity = intrinsicEntity([
    [SIG_SIGNS, hash(blob)],
    [REPO_SIGNED_BY, key.publicKey],
    [REPO_SIGNATURE_R, signatureRValue(sig)],
    [REPO_SIGNATURE_S, signatureSValue(sig)],
  ]);
  const sigBlob = encodeSimpleArchive(entity.set);
  return { sigBlob, sigHandle: hash(sigBlob), sigId: entity.id };
}

/** What a capability grants, to whom, by whom, until when. */
export interface IssueOptions {
  issuer: SigningKey;
  subject: Uint8Array;
  perms: Permission[];
  /** Branch ids the grant is limited to; empty = all branches. */
  branches?: Id[];
  /** TAI ns interval; default (now, now + 30 days). */
  expires?: { lower: bigint; upper: bigint };
  /** The issuer's own capability (cap blob and sig blob), absent when the issuer is the team root. */
  parent?: { capBlob: Uint8Array; sigBlob: Uint8Array };
  scopeRoot?: Id;
}

/** Issues a capability (a cap blob and its sig blob); store both, hand out `sigHandle`. */
export function issueCapability(opts: IssueOptions): SignedBlob {
  const now = nowTaiNs();
  const expires = opts.expires ?? { lower: now, upper: now + 30n * DAY_NS };
  const scopeRoot = opts.scopeRoot ?? ufoId();
  const capEntity = intrinsicEntity([
    [CAP_SUBJECT, opts.subject],
    [CAP_ISSUER, opts.issuer.publicKey],
    [CAP_SCOPE_ROOT, genIdValue(scopeRoot)],
    [METADATA_EXPIRES_AT, intervalValue(expires.lower, expires.upper)],
  ]);
  const set = capEntity.set;
  for (const p of opts.perms) set.add(scopeRoot, METADATA_TAG, genIdValue(PERMISSION_TAGS[p]));
  for (const b of opts.branches ?? []) set.add(scopeRoot, SCOPE_BRANCH, genIdValue(b));
  if (opts.parent) {
    const parentSig = decodeSimpleArchive(opts.parent.sigBlob);
    set.unionInPlace(parentSig);
    const sigIds = parentSig.entitiesWith(SIG_SIGNS);
    if (sigIds.length !== 1) throw new Error("parent sig blob must hold exactly one signature");
    set.add(capEntity.id, CAP_PARENT, hash(opts.parent.capBlob));
    set.add(capEntity.id, CAP_EMBEDDED_PARENT_SIG, genIdValue(sigIds[0]!));
  }
  const blob = encodeSimpleArchive(set);
  const { sigBlob, sigHandle } = signBlob(opts.issuer, blob);
  return { blob, handle: hash(blob), sigBlob, sigHandle };
}

/** A revocation of `target`, signed by `key` (only the team root's revocations count). */
export function issueRevocation(key: SigningKey, target: Uint8Array, timestampNs = nowTaiNs()): SignedBlob {
  const entity = intrinsicEntity([
    [REV_TARGET, target],
    [METADATA_CREATED_AT, pointInterval(timestampNs)],
  ]);
  const blob = encodeSimpleArchive(entity.set);
  const { sigBlob, sigHandle } = signBlob(key, blob);
  return { blob, handle: hash(blob), sigBlob, sigHandle };
}

export type ChainErrorKind =
  | "MalformedSig"
  | "LeafCapMissing"
  | "ParentCapMissing"
  | "BadSignature"
  | "MalformedCap"
  | "SubjectMismatch"
  | "IssuerMismatch"
  | "Expired"
  | "NotYetValid"
  | "Revoked"
  | "ChainTooDeep"
  | "NonRootMissingParent"
  | "ScopeNotSubset";

export class ChainError extends Error {
  constructor(
    readonly kind: ChainErrorKind,
    message: string,
    /** For Expired / NotYetValid: the bound that was crossed (TAI ns); for Revoked: see `key`. */
    readonly atNs?: bigint,
    /** For Revoked: the revoked key in the chain. */
    readonly key?: Uint8Array,
  ) {
    super(`${kind}: ${message}`);
    this.name = "ChainError";
  }
}

interface CapFields {
  id: Id;
  subject: Uint8Array;
  issuer: Uint8Array;
  scopeRoot: Id;
  expires: { lower: bigint; upper: bigint };
  parent?: Hash;
  embeddedSig?: Id;
  perms: Uint8Array[];
  branches: Id[];
  set: TribleSet;
}

function decodeCap(bytes: Uint8Array): CapFields {
  let set: TribleSet;
  try {
    set = decodeSimpleArchive(bytes);
  } catch (err) {
    throw new ChainError("MalformedCap", (err as Error).message);
  }
  const candidates = set
    .entitiesWith(CAP_SUBJECT)
    .filter((e) => set.values(e, CAP_ISSUER).length && set.values(e, CAP_SCOPE_ROOT).length && set.values(e, METADATA_EXPIRES_AT).length);
  if (candidates.length !== 1) throw new ChainError("MalformedCap", `expected one capability entity, found ${candidates.length}`);
  const id = candidates[0]!;
  const single = (attr: Uint8Array, what: string) => {
    const vs = set.values(id, attr);
    if (vs.length !== 1) throw new ChainError("MalformedCap", `capability has ${vs.length} ${what} values`);
    return vs[0]!.slice();
  };
  try {
    const scopeRoot = genIdFromValue(single(CAP_SCOPE_ROOT, "scope_root"));
    const fields: CapFields = {
      id,
      subject: single(CAP_SUBJECT, "subject"),
      issuer: single(CAP_ISSUER, "issuer"),
      scopeRoot,
      expires: intervalFromValue(single(METADATA_EXPIRES_AT, "expires_at")),
      perms: set.values(scopeRoot, METADATA_TAG).map((v) => genIdFromValue(v)),
      branches: set.values(scopeRoot, SCOPE_BRANCH).map((v) => genIdFromValue(v)),
      set,
    };
    const parent = set.values(id, CAP_PARENT)[0];
    const embedded = set.values(id, CAP_EMBEDDED_PARENT_SIG)[0];
    if (parent) fields.parent = parent.slice();
    if (embedded) fields.embeddedSig = genIdFromValue(embedded);
    return fields;
  } catch (err) {
    if (err instanceof ChainError) throw err;
    throw new ChainError("MalformedCap", (err as Error).message);
  }
}

export class VerifiedCapability {
  constructor(
    readonly subject: Uint8Array,
    readonly scopeRoot: Id,
    readonly perms: Uint8Array[],
    /** Empty = all branches. */
    readonly branches: Id[],
    readonly depth: number,
    /** TAI ns after which the chain stops verifying: the earliest expiry of any capability in it. */
    readonly expiresAt: bigint,
  ) {}

  private has(tag: Uint8Array): boolean {
    return this.perms.some((p) => bytesEqual(p, tag));
  }

  grantsRead(): boolean {
    return this.has(PERM_READ) || this.has(PERM_WRITE) || this.has(PERM_ADMIN);
  }

  grantsWrite(): boolean {
    return this.has(PERM_WRITE) || this.has(PERM_ADMIN);
  }

  grantsAdmin(): boolean {
    return this.has(PERM_ADMIN);
  }

  get unrestricted(): boolean {
    return this.branches.length === 0;
  }

  grantsReadOn(branch: Id): boolean {
    return this.grantsRead() && (this.unrestricted || this.branches.some((b) => bytesEqual(b, branch)));
  }

  grantsWriteOn(branch: Id): boolean {
    return this.grantsWrite() && (this.unrestricted || this.branches.some((b) => bytesEqual(b, branch)));
  }
}

/** Parent scope covers child scope (FORMATS §8.3). */
function scopeSubsumes(parent: CapFields, child: CapFields): boolean {
  const has = (perms: Uint8Array[], tag: Uint8Array) => perms.some((p) => bytesEqual(p, tag));
  if (has(parent.perms, PERM_ADMIN)) return true;
  for (const perm of child.perms) {
    if (bytesEqual(perm, PERM_READ)) {
      if (!has(parent.perms, PERM_READ) && !has(parent.perms, PERM_WRITE)) return false;
    } else if (bytesEqual(perm, PERM_WRITE)) {
      if (!has(parent.perms, PERM_WRITE)) return false;
    } else return false;
  }
  if (parent.branches.length === 0) return true;
  return child.branches.length > 0 && child.branches.every((b) => parent.branches.some((p) => bytesEqual(p, b)));
}

export interface BlobSource {
  get(hash: Hash): Uint8Array | undefined;
}

/**
 * Verifies a capability chain from the leaf sig blob up to the team root. Beyond the reference, it
 * requires each child's issuer to be its parent's subject and honours both ends of the validity interval.
 */
export function verifyChain(teamRoot: Uint8Array, leafSigHandle: Hash, expectedSubject: Uint8Array, revoked: RevocationSet, blobs: BlobSource, now = nowTaiNs()): VerifiedCapability {
  const sigBytes = blobs.get(leafSigHandle);
  if (!sigBytes) throw new ChainError("MalformedSig", `capability signature ${toHex(leafSigHandle)} not found`);
  let sigSet: TribleSet;
  try {
    sigSet = decodeSimpleArchive(sigBytes);
  } catch (err) {
    throw new ChainError("MalformedSig", (err as Error).message);
  }
  const signs = sigSet.find({ a: SIG_SIGNS });
  if (signs.length !== 1) throw new ChainError("MalformedSig", `expected one sig_signs triple, found ${signs.length}`);
  const capHandle = signs[0]!.slice(32, 64);
  const capBytes = blobs.get(capHandle);
  if (!capBytes) throw new ChainError("LeafCapMissing", `capability ${toHex(capHandle)} not found`);
  const leafSigner = verifySig(sigSet, SIG_SIGNS, capHandle, capBytes);
  const leaf = decodeCap(capBytes);
  if (!bytesEqual(leaf.subject, expectedSubject)) throw new ChainError("SubjectMismatch", "capability was issued to another key");
  if (!bytesEqual(leafSigner, leaf.issuer)) throw new ChainError("IssuerMismatch", "capability is not signed by its issuer");
  checkCapValid(leaf, revoked, now);

  let current = leaf;
  let expiresAt = leaf.expires.upper;
  for (let depth = 0; ; ) {
    if (bytesEqual(current.issuer, teamRoot)) return new VerifiedCapability(leaf.subject, leaf.scopeRoot, leaf.perms, leaf.branches, depth, expiresAt);
    depth++;
    if (depth > MAX_CHAIN_DEPTH) throw new ChainError("ChainTooDeep", `delegation chain deeper than ${MAX_CHAIN_DEPTH}`);
    if (!current.parent || !current.embeddedSig) throw new ChainError("NonRootMissingParent", "capability not issued by the team root has no parent");
    const parentBytes = blobs.get(current.parent);
    if (!parentBytes) throw new ChainError("ParentCapMissing", `parent capability ${toHex(current.parent)} not found`);
    const embedded = current.set.find({ e: current.embeddedSig });
    const parentSigner = verifySig(TribleSet.fromTribles(embedded), SIG_SIGNS, current.parent, parentBytes);
    const parent = decodeCap(parentBytes);
    if (!bytesEqual(parentSigner, parent.issuer)) throw new ChainError("IssuerMismatch", "parent capability is not signed by its issuer");
    if (!bytesEqual(current.issuer, parent.subject)) throw new ChainError("IssuerMismatch", "capability issuer does not hold the parent capability");
    checkCapValid(parent, revoked, now);
    if (!scopeSubsumes(parent, current)) throw new ChainError("ScopeNotSubset", "capability grants more than its parent");
    if (parent.expires.upper < expiresAt) expiresAt = parent.expires.upper;
    current = parent;
  }
}

function verifySig(set: TribleSet, anchor: Uint8Array, handle: Hash, bytes: Uint8Array): Uint8Array {
  try {
    return verifyAnchoredSignature(set, anchor, handle, bytes, "capability");
  } catch (err) {
    const message = (err as Error).message;
    throw new ChainError(message.includes("not signed") || message.includes("more than one") ? "MalformedSig" : "BadSignature", message);
  }
}

function checkCapValid(cap: CapFields, revoked: RevocationSet, now: bigint): void {
  if (cap.expires.upper < now) throw new ChainError("Expired", "capability has expired", cap.expires.upper);
  if (cap.expires.lower > now) throw new ChainError("NotYetValid", "capability is not valid yet", cap.expires.lower);
  for (const key of [cap.subject, cap.issuer]) if (revoked.has(key)) throw new ChainError("Revoked", "a key in the capability chain was revoked", undefined, key);
}

/** Revoked keys; only ever grows (revocation is monotone). */
export class RevocationSet {
  private readonly keys = new Set<string>();
  has(key: Uint8Array): boolean {
    return this.keys.has(toHex(key));
  }
  add(key: Uint8Array): void {
    this.keys.add(toHex(key));
  }
  get size(): number {
    return this.keys.size;
  }
}

/**
 * Scans blobs for revocations signed by one of `authorities` (the team root) and adds their targets.
 * Blobs that are not revocations are skipped quickly (they lack the rev_target attribute).
 */
export function collectRevocations(reader: { list(): Iterable<Hash>; get(h: Hash): Uint8Array | undefined; sizeOf?(h: Hash): number | undefined }, authorities: Uint8Array[], into = new RevocationSet()): RevocationSet {
  // A blob that fails its hash check cannot be a trustworthy revocation: skip it, so one damaged
  // blob anywhere in a pile does not stop every capability check.
  const read = (h: Hash) => {
    try {
      return reader.get(h);
    } catch {
      return undefined;
    }
  };
  for (const h of reader.list()) {
    const size = reader.sizeOf?.(h);
    if (size !== undefined && (size === 0 || size % 64 !== 0 || size > 64 * 8)) continue;
    const bytes = read(h);
    if (!bytes || bytes.length === 0 || bytes.length % 64 !== 0 || bytes.length > 64 * 8) continue;
    let set: TribleSet;
    try {
      set = decodeSimpleArchive(bytes);
    } catch {
      continue;
    }
    const signs = set.find({ a: SIG_SIGNS });
    if (signs.length !== 1) continue;
    const revHandle = signs[0]!.slice(32, 64);
    const revBytes = read(revHandle);
    if (!revBytes) continue;
    try {
      const rev = decodeSimpleArchive(revBytes);
      const targets = rev.find({ a: REV_TARGET });
      if (targets.length !== 1) continue;
      const signer = verifyAnchoredSignature(set, SIG_SIGNS, revHandle, revBytes, "revocation");
      if (authorities.some((a) => bytesEqual(a, signer))) into.add(targets[0]!.slice(32, 64));
    } catch {}
  }
  return into;
}

/** Within a capability chain: the cap a sig blob signs, or the parent of a cap blob (undefined at the end). */
export function nextInChain(blob: Uint8Array): Hash | undefined {
  try {
    const set = decodeSimpleArchive(blob);
    const next = set.find({ a: SIG_SIGNS })[0] ?? set.find({ a: CAP_PARENT })[0];
    return next?.slice(32, 64);
  } catch {
    return undefined;
  }
}

/** The blobs a peer sends along with AUTH: leaf sig, leaf cap, and every parent cap up the chain. */
export function chainBlobs(leafSigHandle: Hash, blobs: BlobSource): Uint8Array[] {
  const out: Uint8Array[] = [];
  const sig = blobs.get(leafSigHandle);
  if (!sig) return out;
  out.push(sig);
  try {
    const signs = decodeSimpleArchive(sig).find({ a: SIG_SIGNS });
    let capHandle: Hash | undefined = signs[0]?.slice(32, 64);
    for (let depth = 0; capHandle && depth <= MAX_CHAIN_DEPTH; depth++) {
      const cap = blobs.get(capHandle);
      if (!cap) break;
      out.push(cap);
      capHandle = decodeSimpleArchive(cap).find({ a: CAP_PARENT })[0]?.slice(32, 64);
    }
  } catch {}
  return out;
}

export type { Pair };
