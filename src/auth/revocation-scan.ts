/**
 * Finding revocations in a growing store at O(new blobs) per look: each look reads only the blobs
 * stored since the last one. A revocation is two blobs (the revocation and its signature) that may
 * arrive in either order, so a signature whose signed blob is not stored yet is remembered by that
 * blob's hash and judged when the blob arrives.
 */
import { decodeSimpleArchive } from "../core/archive.ts";
import { bytesEqual } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, Hash } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { verifyAnchoredSignature } from "../repo/signature.ts";
import { REV_TARGET, SIG_SIGNS } from "./attributes.ts";
import type { RevocationSet } from "./capability.ts";

/** A signature blob holds one signature entity: 4 tribles, well under this. */
const MAX_SIG_BLOB_BYTES = 64 * 8;

/** A reader that can list the blobs stored after the first n (the pile's and memory's readers can). */
type ListingReader = BlobReader & { listFrom?(fromEntry: number): Iterable<Hash> };

/**
 * Adds to `into` the targets of revocations signed by one of `authorities`, looking at each blob
 * of the store once across calls to `scan`.
 */
export class RevocationScanner {
  private scanned = 0;
  /**
   * Hashes of signed blobs not stored yet, each with the signatures (parsed) waiting for it: all
   * of them, so a forged signature over a root's revocation cannot displace the root's own.
   */
  private readonly awaited = new HashIndex(16);
  private waitingSigs: (TribleSet[] | undefined)[] = [];

  constructor(
    private readonly authorities: readonly Uint8Array[],
    /** Where the revoked keys go (the set only grows). */
    readonly into: RevocationSet,
  ) {}

  /** Blobs looked at so far. */
  get blobsScanned(): number {
    return this.scanned;
  }

  /** Looks at the blobs `reader` holds beyond those seen by earlier calls. */
  scan(reader: ListingReader): void {
    const len = reader.len;
    if (len <= this.scanned) return;
    const source = reader.listFrom ? reader.listFrom(this.scanned) : skipFirst(reader.list(), this.scanned);
    for (const h of source) {
      if (this.awaited.size) this.judgeWaiting(h, reader);
      this.examine(h, reader);
    }
    this.scanned = len;
  }

  /** `h` may be the signed blob an earlier signature waits for. */
  private judgeWaiting(h: Hash, reader: BlobReader): void {
    const entry = this.awaited.find(h);
    if (entry < 0) return;
    const sigs = this.waitingSigs[entry];
    if (!sigs) return;
    this.waitingSigs[entry] = undefined;
    for (const sig of sigs) this.judge(sig, h, reader);
  }

  /** A small blob may be a signature: judge it now, or once the blob it signs arrives. */
  private examine(h: Hash, reader: BlobReader): void {
    const size = reader.sizeOf?.(h);
    if (size !== undefined && (size === 0 || size % 64 !== 0 || size > MAX_SIG_BLOB_BYTES)) return;
    const bytes = readOrSkip(reader, h);
    if (!bytes || bytes.length === 0 || bytes.length % 64 !== 0 || bytes.length > MAX_SIG_BLOB_BYTES) return;
    let sig: TribleSet;
    try {
      sig = decodeSimpleArchive(bytes);
    } catch {
      return;
    }
    const signs = sig.find({ a: SIG_SIGNS });
    if (signs.length !== 1) return;
    const signed = signs[0]!.slice(32, 64);
    if (reader.has(signed)) {
      this.judge(sig, signed, reader);
      return;
    }
    const { entry } = this.awaited.insert(signed);
    const waiting = this.waitingSigs[entry];
    if (waiting) waiting.push(sig);
    else this.waitingSigs[entry] = [sig];
  }

  /** Adds the target when `signed` is a revocation that `sig` validly signs by an authority. */
  private judge(sig: TribleSet, signed: Hash, reader: BlobReader): void {
    const revBytes = readOrSkip(reader, signed);
    if (!revBytes) return;
    try {
      const targets = decodeSimpleArchive(revBytes).find({ a: REV_TARGET });
      if (targets.length !== 1) return;
      const signer = verifyAnchoredSignature(sig, SIG_SIGNS, signed, revBytes, "revocation");
      if (this.authorities.some((a) => bytesEqual(a, signer))) this.into.add(targets[0]!.slice(32, 64));
    } catch {
      // not a revocation, or a forged signature: it revokes nothing
    }
  }
}

/** A blob that fails its hash check cannot be a trustworthy revocation: it is skipped. */
function readOrSkip(reader: BlobReader, h: Hash): Uint8Array | undefined {
  try {
    return reader.get(h);
  } catch {
    return undefined;
  }
}

function* skipFirst(hashes: Iterable<Hash>, n: number): Iterable<Hash> {
  let skipped = 0;
  for (const h of hashes) {
    if (skipped < n) {
      skipped++;
      continue;
    }
    yield h;
  }
}
