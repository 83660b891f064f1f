/**
 * The pile's record layouts (FORMATS §6): 64-byte aligned records, each starting with a 16-byte
 * magic. Integers are little-endian. This module only encodes and parses headers; it never hashes.
 */
import { fromHex } from "../core/bytes.ts";

export const RECORD_ALIGN = 64;
export const HEADER_LEN = 64;
export const MAGIC_LEN = 16;

export const BLOB_MAGIC = fromHex("1E08B022FF2F47B6EBACF1D68EB35D96");
export const BRANCH_MAGIC = fromHex("2BC991A7F5D5D2A3A468C53B0AA03504");
export const TOMBSTONE_MAGIC = fromHex("E888CC787202D2AE4C654BFE9699C430");

/** Records above this size are appended under the exclusive lock, as the reference does (1 GiB). */
export const ATOMIC_WRITE_LIMIT = 2 ** 30;
/** Largest blob we accept: lengths beyond this are treated as corruption rather than allocated. */
export const MAX_BLOB_LEN = 2 ** 48;

export enum RecordKind {
  Blob = 1,
  Branch = 2,
  Tombstone = 3,
}

/** Zero bytes to pad a payload of `length` to the 64-byte grid. */
export function paddingFor(length: number): number {
  return (RECORD_ALIGN - (length % RECORD_ALIGN)) % RECORD_ALIGN;
}

/** Which record starts at `at`, or 0 if the magic is unknown. Needs 16 readable bytes. */
export function recordKindAt(bytes: Uint8Array, at: number): RecordKind | 0 {
  if (matches(bytes, at, BLOB_MAGIC)) return RecordKind.Blob;
  if (matches(bytes, at, BRANCH_MAGIC)) return RecordKind.Branch;
  if (matches(bytes, at, TOMBSTONE_MAGIC)) return RecordKind.Tombstone;
  return 0;
}

function matches(bytes: Uint8Array, at: number, magic: Uint8Array): boolean {
  for (let i = 0; i < MAGIC_LEN; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}

/** Reads a u64 little-endian length as a number; returns -1 if it exceeds MAX_BLOB_LEN. */
export function readBlobLength(bytes: Uint8Array, at: number): number {
  const lo = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  const hi = (bytes[at + 4]! | (bytes[at + 5]! << 8) | (bytes[at + 6]! << 16) | (bytes[at + 7]! << 24)) >>> 0;
  if (hi >= 2 ** 16) return -1;
  return hi * 2 ** 32 + lo;
}

/** Writes a non-negative integer below 2^53 as u64 little-endian (no DataView or BigInt: hot path). */
function writeU64LE(out: Uint8Array, at: number, value: number): void {
  const low = value % 2 ** 32;
  const high = (value - low) / 2 ** 32;
  for (let i = 0; i < 4; i++) {
    out[at + i] = (low >>> (8 * i)) & 255;
    out[at + 4 + i] = (high >>> (8 * i)) & 255;
  }
}

/** The 64-byte header of a blob record. */
export function blobHeader(hash: Uint8Array, length: number, timestampMs = Date.now()): Uint8Array {
  const header = new Uint8Array(HEADER_LEN);
  writeBlobHeaderInto(header, 0, hash, length, timestampMs);
  return header;
}

export function writeBlobHeaderInto(out: Uint8Array, at: number, hash: Uint8Array, length: number, timestampMs: number): void {
  out.set(BLOB_MAGIC, at);
  writeU64LE(out, at + 16, Math.floor(timestampMs));
  writeU64LE(out, at + 24, length);
  out.set(hash, at + 32);
}

/** A 64-byte branch record (head = branch-metadata handle) or, with head null, a tombstone. */
export function branchRecord(branchId: Uint8Array, head: Uint8Array | null): Uint8Array {
  const record = new Uint8Array(HEADER_LEN);
  record.set(head ? BRANCH_MAGIC : TOMBSTONE_MAGIC, 0);
  record.set(branchId, 16);
  if (head) record.set(head, 32);
  return record;
}
