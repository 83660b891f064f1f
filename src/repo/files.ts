/**
 * The content schema of file commits (tribles' own; the reference has no file schema). A file is
 * one entity with an intrinsic id:
 *
 * | attribute    | id                                 | value                                          |
 * |--------------|------------------------------------|------------------------------------------------|
 * | file path    | `7DD83C299CD2DC77CD913D88B533F507` | Handle<LongString>: relative path, `/`-separated |
 * | file name    | `2041F44334F372155E05A01CBE781515` | Handle<LongString>: a base name (first schema) |
 * | file content | `43B473EA00249BA22EFEAA791B06F6C3` | Handle<RawBytes>: BLAKE3 of the raw bytes      |
 * | file size    | `98E0F8088F386A2907A605B71C96102F` | U256BE: the byte length                        |
 * | file tree    | `5B6971E74AEFD2176B777D20383AD9EE` | U256BE: number of files in this tree          |
 * | file chunks  | `F6E111F30FC3A6BA7D84759DA937D73C` | Handle: the file's chunk list (large files)    |
 *
 * A file over `CHUNK_BYTES` is stored as chunks of `CHUNK_BYTES` (the last one shorter), each a
 * blob, and a chunk-list blob of their hashes, 32 bytes each, in order; the file content attribute
 * still holds the BLAKE3 of the whole file (its identity), which is then no stored blob. Chunks a
 * new version shares with an old one are stored once, and a chunk list's children are its chunks
 * (the network's closure rule), so a fetch of a file moves chunk by chunk and resumes.
 *
 * A commit whose content holds a file-tree entity is a snapshot: its files (by path) are the whole
 * tree, so what it leaves out is deleted. A commit without one (the first schema, which the
 * reference fixtures use: base names, commits only add) adds its files to its parent's tree.
 * How trees of commits and merges are computed is in file-tree.ts. The name/path and content
 * blobs are stored beside the commit; intrinsic ids make the same file always the same tribles.
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
export const FILE_PATH = fromHex("7DD83C299CD2DC77CD913D88B533F507");
export const FILE_TREE = fromHex("5B6971E74AEFD2176B777D20383AD9EE");
export const FILE_CHUNKS = fromHex("F6E111F30FC3A6BA7D84759DA937D73C");
/** Files larger than this are stored in chunks of this size (see above). */
export const CHUNK_BYTES = 1 << 20;

export interface FileEntry {
  /** A path; only its base name is recorded. */
  name: string;
  bytes: Uint8Array;
}

/** A file recorded in a commit's content (`nameHandle` names its path, or its base name in the first schema). */
export interface FileRecord {
  nameHandle: Hash;
  contentHandle: Hash;
  size: bigint;
  /** The chunk list of a large file (see CHUNK_BYTES). */
  chunks?: Hash;
}

/** First-schema content (base names, additive) for a list of files; new commits use `snapshotContent`. */
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
    const paths = content.values(e, FILE_PATH);
    const names = paths.length ? paths : content.values(e, FILE_NAME);
    const contents = content.values(e, FILE_CONTENT);
    const sizes = content.values(e, FILE_SIZE);
    const chunks = content.values(e, FILE_CHUNKS);
    if (names.length !== 1 || contents.length !== 1 || sizes.length !== 1 || chunks.length > 1) continue;
    const size = sizes[0]!;
    // Sizes beyond 2^64 cannot be real files; skip such (malformed) records.
    if (!isZero(size.subarray(0, 24))) continue;
    out.push({
      nameHandle: names[0]!.slice(),
      contentHandle: contents[0]!.slice(),
      size: new DataView(size.buffer, size.byteOffset).getBigUint64(24),
      ...(chunks.length ? { chunks: chunks[0]!.slice() } : {}),
    });
  }
  return out;
}

/** One file of a snapshot: its path, its content handle and size. */
export interface SnapshotFile {
  path: string;
  content: Hash;
  size: bigint;
  /** The chunk list of a large file. */
  chunks?: Hash;
}

/** Snapshot content (the whole tree, see above) and the path blobs it names. */
export function snapshotContent(files: readonly SnapshotFile[]): { content: TribleSet; blobs: Uint8Array[] } {
  const content = new TribleSet();
  const blobs: Uint8Array[] = [];
  content.unionInPlace(intrinsicEntity([[FILE_TREE, u256be(BigInt(files.length))]]).set);
  for (const file of files) {
    const pathBytes = encodeLongString(file.path);
    content.unionInPlace(
      intrinsicEntity([
        [FILE_PATH, hash(pathBytes)],
        [FILE_CONTENT, file.content],
        [FILE_SIZE, u256be(file.size)],
        ...(file.chunks ? [[FILE_CHUNKS, file.chunks] as [Uint8Array, Uint8Array]] : []),
      ]).set,
    );
    blobs.push(pathBytes);
  }
  return { content, blobs };
}

/** The file count of a snapshot's tree entity, or null when the content is no snapshot (or a malformed one). */
export function snapshotCount(content: TribleSet): bigint | null {
  const trees = content.entitiesWith(FILE_TREE);
  if (trees.length !== 1) return null;
  const counts = content.values(trees[0]!, FILE_TREE);
  if (counts.length !== 1 || !isZero(counts[0]!.subarray(0, 24))) return null;
  return new DataView(counts[0]!.buffer, counts[0]!.byteOffset).getBigUint64(24);
}

function u256be(n: bigint): Uint8Array {
  const v = new Uint8Array(32);
  new DataView(v.buffer).setBigUint64(24, n);
  return v;
}

/**
 * Whether a recorded base name (old-style records, which hold no directories) is a plain file
 * name. Kept for callers of the first schema; paths are checked by `pathProblem` (paths.ts).
 */
export function isSafeFileName(name: string): boolean {
  if (name === "" || name === "." || name === "..") return false;
  if (new TextEncoder().encode(name).length > 255) return false;
  return !/[/\\\u0000-\u001f\u007f]/.test(name);
}
