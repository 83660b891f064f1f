/**
 * Verified revocations of a team: which keys lost access, when, and the signed blobs that prove it
 * (so a node can hand them on: at AUTH, by gossip, on request). A revocation counts only when its
 * sig blob verifies and was made by one of the team's revoking authorities (the team root). The
 * set only grows: a key once revoked stays revoked.
 */
import { decodeSimpleArchive } from "../core/archive.ts";
import { hash } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import { METADATA_CREATED_AT } from "../core/metadata.ts";
import { intervalFromValue } from "../core/schemas.ts";
import type { BlobReader, Hash } from "../core/store.ts";

import { verifyAnchoredSignature } from "../repo/signature.ts";
import { REV_TARGET, SIG_SIGNS } from "./attributes.ts";
import { RevocationSet } from "./capability.ts";

/** A revocation's blobs are a few tribles each; anything larger is not one (checked before decoding). */
export const MAX_REVOCATION_BLOB_BYTES = 64 * 8;

export interface Revocation {
  /** The revoked key. */
  target: Uint8Array;
  /** When it was revoked (TAI ns, from the revocation's created_at), or undefined if it carries none. */
  atNs: bigint | undefined;
  /** The revocation blob and its sig blob, as they travel. */
  revBlob: Uint8Array;
  sigBlob: Uint8Array;
}

const plausible = (bytes: Uint8Array | undefined): bytes is Uint8Array => !!bytes && bytes.length > 0 && bytes.length % 64 === 0 && bytes.length <= MAX_REVOCATION_BLOB_BYTES;

/** The revocation handle a sig blob signs, if it looks like a revocation's sig blob (no signature checked). */
function signedHandle(sigBlob: Uint8Array): { set: ReturnType<typeof decodeSimpleArchive>; handle: Hash } | undefined {
  if (!plausible(sigBlob)) return undefined;
  try {
    const set = decodeSimpleArchive(sigBlob);
    const signs = set.find({ a: SIG_SIGNS });
    if (signs.length !== 1) return undefined;
    return { set, handle: signs[0]!.slice(32, 64) };
  } catch {
    return undefined;
  }
}

/**
 * Verifies one revocation: `sigBlob` signs `revBlob`, the signer is one of `authorities`, and the
 * revocation names exactly one key. Undefined when any of that fails.
 */
export function verifyRevocation(sigBlob: Uint8Array, revBlob: Uint8Array, authorities: readonly Uint8Array[]): Revocation | undefined {
  const signed = signedHandle(sigBlob);
  if (!signed || !plausible(revBlob) || !bytesEqual(hash(revBlob), signed.handle)) return undefined;
  try {
    const rev = decodeSimpleArchive(revBlob);
    const targets = rev.find({ a: REV_TARGET });
    if (targets.length !== 1) return undefined;
    const signer = verifyAnchoredSignature(signed.set, SIG_SIGNS, signed.handle, revBlob, "revocation");
    if (!authorities.some((a) => bytesEqual(a, signer))) return undefined;
    const created = rev.find({ a: METADATA_CREATED_AT })[0];
    return { target: targets[0]!.slice(32, 64), atNs: created ? intervalFromValue(created.slice(32, 64)).lower : undefined, revBlob, sigBlob };
  } catch {
    return undefined;
  }
}

/**
 * The revocations among loose blobs (e.g. those a peer sent with AUTH): each sig blob is paired with
 * the blob it signs, if that is among them too. Unverified; at most `limit` pairs are returned.
 */
export function revocationPairs(blobs: readonly Uint8Array[], limit: number): { sigBlob: Uint8Array; revBlob: Uint8Array }[] {
  const small = blobs.filter(plausible);
  const byHash = new Map<string, Uint8Array>();
  for (const b of small) byHash.set(toHex(hash(b)), b);
  const out: { sigBlob: Uint8Array; revBlob: Uint8Array }[] = [];
  for (const sigBlob of small) {
    if (out.length >= limit) break;
    const signed = signedHandle(sigBlob);
    const revBlob = signed && byHash.get(toHex(signed.handle));
    if (revBlob) out.push({ sigBlob, revBlob });
  }
  return out;
}

/** The verified revocations a node knows, by revoked key. */
export class Revocations {
  private readonly byKey = new Map<string, Revocation>();
  /** The revoked keys, in the shape chain verification takes. */
  readonly set = new RevocationSet();
  /** Pile entries scanned so far (the scan is incremental). */
  private scanned = 0;
  /**
   * Blobs signed by sig blobs already scanned but not stored yet, each with every sig blob waiting
   * for it (all of them: a forged signature over the root's revocation must not displace the
   * root's own). A revocation's two blobs may arrive in either order, in separate scans.
   */
  private awaited = new HashIndex(16);
  private waitingSigs: (Uint8Array[] | undefined)[] = [];

  constructor(readonly authorities: readonly Uint8Array[]) {}

  has(key: Uint8Array): boolean {
    return this.set.has(key);
  }

  of(key: Uint8Array): Revocation | undefined {
    return this.byKey.get(toHex(key));
  }

  get size(): number {
    return this.byKey.size;
  }

  all(): Revocation[] {
    return [...this.byKey.values()];
  }

  /** Verifies and records one revocation; returns it when it is new (a key revoked twice counts once). */
  add(sigBlob: Uint8Array, revBlob: Uint8Array): Revocation | undefined {
    const rev = verifyRevocation(sigBlob, revBlob, this.authorities);
    if (!rev) return undefined;
    const key = toHex(rev.target);
    if (this.byKey.has(key)) return undefined;
    this.byKey.set(key, rev);
    this.set.add(rev.target);
    return rev;
  }

  /**
   * Records the revocations stored in a pile since the last scan (only entries added since are
   * read when the reader can list from an entry); returns the new ones.
   */
  scan(reader: BlobReader & { list(): Iterable<Hash>; listFrom?(from: number): Iterable<Hash> }): Revocation[] {
    const len = reader.len;
    if (len === this.scanned) return [];
    const from = reader.listFrom ? this.scanned : 0;
    if (from === 0) {
      // A full scan meets every sig blob again: what waited is found afresh.
      this.awaited = new HashIndex(16);
      this.waitingSigs = [];
    }
    const source = reader.listFrom ? reader.listFrom(from) : reader.list();
    const found: Revocation[] = [];
    const read = (h: Hash) => {
      try {
        return reader.get(h);
      } catch {
        return undefined; // a damaged blob is no trustworthy revocation
      }
    };
    const take = (sigBlob: Uint8Array, revBlob: Uint8Array) => {
      const rev = this.add(sigBlob, revBlob);
      if (rev) found.push(rev);
    };
    for (const h of source) {
      if (this.awaited.size) this.judgeWaiting(h, read, take);
      const size = reader.sizeOf?.(h);
      if (size !== undefined && (size === 0 || size % 64 !== 0 || size > MAX_REVOCATION_BLOB_BYTES)) continue;
      const sigBlob = read(h);
      const signed = sigBlob && signedHandle(sigBlob);
      if (!signed) continue;
      if (reader.has(signed.handle)) {
        const revBlob = read(signed.handle);
        if (revBlob) take(sigBlob, revBlob);
        continue;
      }
      // Its revocation is not stored yet: judged when a later scan meets it.
      const { entry } = this.awaited.insert(signed.handle);
      const waiting = this.waitingSigs[entry];
      if (waiting) waiting.push(sigBlob);
      else this.waitingSigs[entry] = [sigBlob];
    }
    this.scanned = len;
    return found;
  }

  /** `h` may be a blob that sig blobs scanned earlier sign. */
  private judgeWaiting(h: Hash, read: (h: Hash) => Uint8Array | undefined, take: (sigBlob: Uint8Array, revBlob: Uint8Array) => void): void {
    const entry = this.awaited.find(h);
    if (entry < 0) return;
    const sigs = this.waitingSigs[entry];
    if (!sigs) return;
    this.waitingSigs[entry] = undefined;
    const revBlob = read(h);
    if (revBlob) for (const sigBlob of sigs) take(sigBlob, revBlob);
  }
}

