/**
 * How `tribles pile commit` records files: one entity per file with its name (a LongString
 * handle), its content (a raw blob handle) and its size. The entity id is intrinsic, so committing
 * the same file twice yields the same tribles. These attribute ids are tribles' own.
 */
import { basename } from "node:path";
import { hash } from "../core/blake3.ts";
import { fromHex } from "../core/bytes.ts";
import { intrinsicEntity } from "../core/entity.ts";
import { encodeLongString } from "../core/longstring.ts";
import { TribleSet } from "../core/tribleset.ts";

export const FILE_NAME = fromHex("2041F44334F372155E05A01CBE781515");
export const FILE_CONTENT = fromHex("43B473EA00249BA22EFEAA791B06F6C3");
export const FILE_SIZE = fromHex("98E0F8088F386A2907A605B71C96102F");

export interface FileEntry {
  name: string;
  bytes: Uint8Array;
}

/** The content set and the blobs (name strings and file bytes) for a list of files. */
export function filesToContent(files: FileEntry[]): { content: TribleSet; blobs: Uint8Array[] } {
  const content = new TribleSet();
  const blobs: Uint8Array[] = [];
  for (const file of files) {
    const nameBytes = encodeLongString(basename(file.name));
    const size = new Uint8Array(32);
    new DataView(size.buffer).setBigUint64(24, BigInt(file.bytes.length));
    content.unionInPlace(
      intrinsicEntity([
        [FILE_NAME, hash(nameBytes)],
        [FILE_CONTENT, hash(file.bytes)],
        [FILE_SIZE, size],
      ]).set,
    );
    blobs.push(nameBytes, file.bytes);
  }
  return { content, blobs };
}
