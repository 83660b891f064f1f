/**
 * Reading repository blobs from a store. Blobs are untrusted (they may come from a peer or a
 * damaged file), so every decoding failure becomes a RepoError naming what was being read.
 */
import { decodeSimpleArchive } from "../core/archive.ts";
import { toHex } from "../core/bytes.ts";
import type { Hash } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { RepoError } from "./errors.ts";

/** The one method of a blob reader the repository needs (a store snapshot or a staging layer). */
export interface BlobGetter {
  get(hash: Hash): Uint8Array | undefined;
}

/** Decodes a SimpleArchive; a malformed one is a "bad-blob" error prefixed with `what`. */
export function decodeArchive(bytes: Uint8Array, what: string): TribleSet {
  try {
    return decodeSimpleArchive(bytes);
  } catch (err) {
    throw new RepoError(`${what}: ${(err as Error).message}`, "bad-blob");
  }
}

/** Fetches a blob that must exist; a missing blob (or one that fails its hash check) is an error. */
export function requireBlob(blobs: BlobGetter, h: Hash, what: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  try {
    bytes = blobs.get(h);
  } catch (err) {
    throw new RepoError(`${what} ${toHex(h)} cannot be read: ${(err as Error).message}`, "bad-blob");
  }
  if (!bytes) throw new RepoError(`${what} ${toHex(h)} is missing from the store`, "missing-blob");
  return bytes;
}

/** Runs a parser; any failure becomes a "bad-blob" RepoError prefixed with `what`. */
export function parseOrThrow<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof RepoError) throw err;
    throw new RepoError(`${what}: ${(err as Error).message}`, "bad-blob");
  }
}
