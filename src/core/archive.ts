/**
 * Blob encodings (FORMATS §4). SimpleArchive is the canonical blob of a TribleSet: its tribles
 * sorted by all 64 bytes, no duplicates, concatenated. Decoding enforces that canonical form, so a
 * set has exactly one archive and one handle.
 */
import { fromHex, isZero } from "./bytes.ts";
import { TRIBLE_LEN } from "./trible.ts";
import { TribleSet } from "./tribleset.ts";

export const SIMPLE_ARCHIVE_SCHEMA = fromHex("8F4A27C8581DADCBA1ADA8BA228069B6");
export const LONG_STRING_SCHEMA = fromHex("8B173C65B7DB601A11E8A190BD774A79");
export const UNKNOWN_BLOB_SCHEMA = fromHex("EAB14005141181B0C10C4B5DD7985F8D");
export const RAW_BYTES_SCHEMA = fromHex("4C1BA1EB2FDCC637C2F269A46FCA2398");
/** Compressed indexed archive; only the optional `repo::rollup` attribute uses it (not decoded here). */
export const SUCCINCT_ARCHIVE_SCHEMA = fromHex("8FAD1D4C7F884B51BAA5D6C56B873E41");
/** A WebAssembly module (only `metadata::value_formatter` points at one). */
export const WASM_CODE_SCHEMA = fromHex("DEE50FAD0CFFA4F8FD542DD18D9B7E52");

export type ArchiveErrorKind = "BadArchive" | "BadTrible" | "BadCanonicalizationRedundancy" | "BadCanonicalizationOrdering";

/** A blob that is not a valid canonical SimpleArchive; `kind` says which rule it breaks, `index` at which trible. */
export class ArchiveError extends Error {
  /** An error of kind `kind`, at trible `index` when known. */
  constructor(
    readonly kind: ArchiveErrorKind,
    message: string,
    readonly index?: number,
  ) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** The SimpleArchive blob of a set (its tribles in canonical order), as committed and stored. */
export function encodeSimpleArchive(set: TribleSet): Uint8Array {
  return set.bytes().slice();
}

/** Decodes a SimpleArchive, rejecting anything that is not the canonical form. */
export function decodeSimpleArchive(bytes: Uint8Array): TribleSet {
  if (bytes.length % TRIBLE_LEN !== 0) {
    throw new ArchiveError("BadArchive", `not a SimpleArchive: length ${bytes.length} is not a multiple of ${TRIBLE_LEN}`);
  }
  for (let at = 0, index = 0; at < bytes.length; at += TRIBLE_LEN, index++) {
    if (isZero(bytes.subarray(at, at + 16)) || isZero(bytes.subarray(at + 16, at + 32))) {
      throw new ArchiveError("BadTrible", `SimpleArchive trible ${index} has a nil entity or attribute`, index);
    }
    if (at === 0) continue;
    let c = 0;
    for (let i = 0; i < TRIBLE_LEN && c === 0; i++) c = bytes[at - TRIBLE_LEN + i]! - bytes[at + i]!;
    if (c === 0) throw new ArchiveError("BadCanonicalizationRedundancy", `SimpleArchive trible ${index} repeats the previous one`, index);
    if (c > 0) throw new ArchiveError("BadCanonicalizationOrdering", `SimpleArchive trible ${index} is out of order`, index);
  }
  return TribleSet.fromCanonicalBytes(bytes);
}
