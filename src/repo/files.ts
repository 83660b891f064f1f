/**
 * The content schema of `tribles pile commit FILES…` (tribles' own; the reference has no file
 * schema). Each file is one entity with an intrinsic id over three attributes:
 *
 * | attribute    | id                                 | value                                     |
 * |--------------|------------------------------------|-------------------------------------------|
 * | file name    | `2041F44334F372155E05A01CBE781515` | Handle<LongString>: the file's base name  |
 * | file content | `43B473EA00249BA22EFEAA791B06F6C3` | Handle<RawBytes>: BLAKE3 of the raw bytes |
 * | file size    | `98E0F8088F386A2907A605B71C96102F` | U256BE: the byte length                   |
 *
 * The name and content blobs are stored beside the commit. Because the id is intrinsic, the same
 * file (name, bytes) always yields the same tribles, and committing it again adds nothing.
 */
import { basename } from "node:path";
import { hash } from "../core/blake3.ts";
import { fromHex, isZero } from "../core/bytes.ts";
import { intrinsicEntity } from "../core/entity.ts";
import { encodeLongString } from "../core/longstring.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";

export const FILE_NAME = fromHex("2041F44334F372155E05A01CBE781515");
export const FILE_CONTENT = fromHex("43B473EA00249BA22EFEAA791B06F6C3");
export const FILE_SIZE = fromHex("98E0F8088F386A2907A605B71C96102F");

export interface FileEntry {
  /** A path; only its base name is recorded. */
  name: string;
  bytes: Uint8Array;
}

/** A file recorded in a commit's content. */
export interface FileRecord {
  nameHandle: Hash;
  contentHandle: Hash;
  size: bigint;
}

/** The content set and the blobs (name strings and file bytes) for a list of files. */
export function filesToContent(files: readonly FileEntry[]): { content: TribleSet; blobs: Uint8Array[] } {
  const content = new TribleSet();
  const blobs: Uint8Array[] = [];
  for (const file of files) {
    const nameBytes = encodeLongString(basename(file.name));
    content.unionInPlace(
      intrinsicEntity([
        [FILE_NAME, hash(nameBytes)],
        [FILE_CONTENT, hash(file.bytes)],
        [FILE_SIZE, u256be(BigInt(file.bytes.length))],
      ]).set,
    );
    blobs.push(nameBytes, file.bytes);
  }
  return { content, blobs };
}

/** The file entities of a content set (entities with all three attributes, one value each). */
export function filesInContent(content: TribleSet): FileRecord[] {
  const out: FileRecord[] = [];
  for (const e of content.entitiesWith(FILE_CONTENT)) {
    const names = content.values(e, FILE_NAME);
    const contents = content.values(e, FILE_CONTENT);
    const sizes = content.values(e, FILE_SIZE);
    if (names.length !== 1 || contents.length !== 1 || sizes.length !== 1) continue;
    const size = sizes[0]!;
    // Sizes beyond 2^64 cannot be real files; skip such (malformed) records.
    if (!isZero(size.subarray(0, 24))) continue;
    out.push({ nameHandle: names[0]!.slice(), contentHandle: contents[0]!.slice(), size: new DataView(size.buffer, size.byteOffset).getBigUint64(24) });
  }
  return out;
}

function u256be(n: bigint): Uint8Array {
  const v = new Uint8Array(32);
  new DataView(v.buffer).setBigUint64(24, n);
  return v;
}
