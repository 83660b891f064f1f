/**
 * A file's bytes in a store (schema in files.ts): one blob for a small file, chunks and a chunk
 * list for a large one. Storing, checking, hashing and writing out all go through a buffer of one
 * chunk, so memory stays bounded whatever the file's size.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { Blake3Hasher, hash } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { BlobReader, BlobStorePut, Hash } from "../core/store.ts";
import type { BlobGetter } from "./archive-read.ts";
import { CHUNK_BYTES } from "./files.ts";

/** Told the bytes of each piece of a file as it is stored or written (for byte progress). */
export type OnBytes = (n: number) => void;

/** A stored version of a file: the whole content's hash, its size, and its chunk list when large. */
export interface StoredFile {
  content: Hash;
  size: bigint;
  chunks?: Hash;
}

/** Stores bytes already in memory (chunked when large, exactly as `storeFile` would). */
export function storeBytes(store: BlobStorePut, bytes: Uint8Array): StoredFile {
  if (bytes.length <= CHUNK_BYTES) return { content: store.put(bytes), size: BigInt(bytes.length) };
  const list = new Uint8Array(Math.ceil(bytes.length / CHUNK_BYTES) * 32);
  for (let at = 0, i = 0; at < bytes.length; at += CHUNK_BYTES, i++) list.set(store.put(bytes.subarray(at, at + CHUNK_BYTES)), i * 32);
  return { content: hash(bytes), size: BigInt(bytes.length), chunks: store.put(list) };
}

/** Stores a file from disk, reading one chunk at a time (each chunk is stored as it is read). */
export function storeFile(store: BlobStorePut, path: string, onBytes?: OnBytes): StoredFile {
  const fd = openSync(path, "r");
  try {
    if (fstatSync(fd).size <= CHUNK_BYTES) {
      const stored = storeBytes(store, readAll(fd));
      onBytes?.(Number(stored.size));
      return stored;
    }
    const hasher = new Blake3Hasher();
    const buffer = new Uint8Array(CHUNK_BYTES);
    const hashes: Hash[] = [];
    let size = 0;
    for (;;) {
      const n = fill(fd, buffer);
      if (n === 0) break;
      const piece = buffer.subarray(0, n);
      hasher.update(piece);
      hashes.push(store.put(piece));
      size += n;
      onBytes?.(n);
      if (n < CHUNK_BYTES) break;
    }
    // A file that shrank below one chunk while being read is stored as what was read.
    if (size <= CHUNK_BYTES) return storeBytes(store, buffer.slice(0, size));
    const list = new Uint8Array(hashes.length * 32);
    for (let i = 0; i < hashes.length; i++) list.set(hashes[i]!, i * 32);
    return { content: hasher.digest(), size: BigInt(size), chunks: store.put(list) };
  } finally {
    closeSync(fd);
  }
}

/** The BLAKE3 and size of a file on disk, read one chunk at a time. */
export function hashFile(path: string): { content: Hash; size: bigint } {
  const fd = openSync(path, "r");
  try {
    const hasher = new Blake3Hasher();
    const buffer = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(1, fstatSync(fd).size)));
    let size = 0;
    for (;;) {
      const n = fill(fd, buffer);
      if (n === 0) break;
      hasher.update(buffer.subarray(0, n));
      size += n;
    }
    return { content: hasher.digest(), size: BigInt(size) };
  } finally {
    closeSync(fd);
  }
}

/** Why a stored file cannot be written out whole (a blob missing or of the wrong size), or null. */
export function storedProblem(reader: BlobGetter & Partial<Pick<BlobReader, "sizeOf">>, file: StoredFile): string | null {
  const sizeOf = (h: Hash) => (reader.sizeOf ? reader.sizeOf(h) : reader.get(h)?.length);
  const missing = (what: string, h: Hash) => `${what} ${toHex(h)} is not in this pile (history fetched only in part?)`;
  if (!file.chunks) {
    const n = sizeOf(file.content);
    if (n === undefined) return missing("its content", file.content);
    return BigInt(n) === file.size ? null : `recorded as ${file.size} bytes but its blob has ${n}`;
  }
  const count = Number((file.size + BigInt(CHUNK_BYTES) - 1n) / BigInt(CHUNK_BYTES));
  let list: Uint8Array | undefined;
  try {
    list = reader.get(file.chunks);
  } catch (err) {
    return (err as Error).message;
  }
  if (!list) return missing("its chunk list", file.chunks);
  if (list.length !== count * 32) return `its chunk list has ${list.length / 32} chunks, ${count} expected for ${file.size} bytes`;
  for (let i = 0; i < count; i++) {
    const want = i < count - 1 ? CHUNK_BYTES : Number(file.size) - (count - 1) * CHUNK_BYTES;
    const h = list.subarray(i * 32, i * 32 + 32);
    const n = sizeOf(h);
    if (n === undefined) return missing(`chunk ${i + 1} of ${count}`, h);
    if (n !== want) return `chunk ${i + 1} of ${count} has ${n} bytes, ${want} expected`;
  }
  return null;
}

/**
 * Writes a stored file to an open descriptor, chunk by chunk, and checks the whole content's hash
 * (the chunks verify themselves; this checks they are the file recorded). Throws when it differs.
 */
export function writeStored(reader: BlobGetter, file: StoredFile, fd: number, onBytes?: OnBytes): void {
  if (!file.chunks) {
    const bytes = reader.get(file.content);
    if (!bytes || BigInt(bytes.length) !== file.size) throw new Error(`content ${toHex(file.content)} is missing or of the wrong size`);
    writeAll(fd, bytes);
    onBytes?.(bytes.length);
    return;
  }
  const list = reader.get(file.chunks);
  if (!list) throw new Error(`chunk list ${toHex(file.chunks)} is missing`);
  const hasher = new Blake3Hasher();
  for (let at = 0; at < list.length; at += 32) {
    const chunk = reader.get(list.subarray(at, at + 32));
    if (!chunk) throw new Error(`chunk ${at / 32 + 1} is missing`);
    hasher.update(chunk);
    writeAll(fd, chunk);
    onBytes?.(chunk.length);
  }
  if (!bytesEqual(hasher.digest(), file.content)) throw new Error(`its chunks do not make the recorded content ${toHex(file.content)}`);
}

function readAll(fd: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buffer = new Uint8Array(64 * 1024);
    const n = fill(fd, buffer);
    if (n === 0) break;
    chunks.push(buffer.subarray(0, n));
    total += n;
    if (n < buffer.length) break;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads until the buffer is full or the file ends; returns the bytes read. */
function fill(fd: number, buffer: Uint8Array): number {
  let n = 0;
  while (n < buffer.length) {
    const got = readSync(fd, buffer, n, buffer.length - n, null);
    if (got === 0) break;
    n += got;
  }
  return n;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}
