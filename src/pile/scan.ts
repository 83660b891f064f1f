/**
 * Walks pile records over a byte range and reports each one; it never hashes and never allocates
 * from a length field. The same walk serves refresh, restore and diagnose.
 */
import { bytesEqual, isZero, LITTLE_ENDIAN } from "../core/bytes.ts";
import { BLOB_MAGIC, BRANCH_MAGIC, HEADER_LEN, MAGIC_LEN, MAX_BLOB_LEN, paddingFor, RecordKind, readBlobLength, recordKindAt, TOMBSTONE_MAGIC } from "./format.ts";

export interface RecordVisitor {
  /** A complete blob record: header at `at`, payload at `at + 64`. */
  blob(at: number, length: number): void;
  /** A branch record (`head` true) or tombstone (`head` false) at `at`. */
  branch(at: number, isHead: boolean): void;
}

export type ScanResult =
  | { ok: true; end: number }
  /** `incomplete`: the record at `end` runs past the available bytes (a torn or in-progress append). */
  | { ok: false; end: number; incomplete: boolean; reason: string };

// Why a record is bad (negative results of `recordSizeAt`), with their messages.
const PARTIAL_MAGIC = -1;
const UNKNOWN_MAGIC = -2;
const PARTIAL_HEADER = -3;
const HUGE_LENGTH = -4;
const PAST_END = -5;
const NIL_BRANCH_ID = -6;
const REASONS: Record<number, string> = {
  [PARTIAL_MAGIC]: "partial record magic",
  [UNKNOWN_MAGIC]: "unknown record magic",
  [PARTIAL_HEADER]: "partial record header",
  [HUGE_LENGTH]: "blob length field is implausibly large",
  [PAST_END]: "blob record runs past the end of the file",
  [NIL_BRANCH_ID]: "branch record with a nil branch id",
};

/** The blob magic as the four 32-bit words it reads as here. */
const [BLOB_W0, BLOB_W1, BLOB_W2, BLOB_W3] = new Uint32Array(BLOB_MAGIC.slice().buffer);

/**
 * Size of the complete, well-formed record at `at` (ending by `end`), or a negative reason code.
 * Its header must lie before `to`; `end` (default `to`) bounds only the length field, for a
 * scan through a view that ends before the file does.
 */
export function recordSizeAt(bytes: Uint8Array, at: number, to: number, end = to): number {
  const left = to - at;
  if (left < MAGIC_LEN) return PARTIAL_MAGIC;
  const kind = recordKindAt(bytes, at);
  if (kind === 0) return UNKNOWN_MAGIC;
  if (left < HEADER_LEN) return PARTIAL_HEADER;
  if (kind !== RecordKind.Blob) return isZero(bytes.subarray(at + 16, at + 32)) ? NIL_BRANCH_ID : HEADER_LEN;
  // Bound the untrusted u64 before any arithmetic: a length past the file is never used.
  const length = readBlobLength(bytes, at + 24);
  if (length < 0 || length > MAX_BLOB_LEN) return HUGE_LENGTH;
  const size = HEADER_LEN + length + paddingFor(length);
  return size > end - at ? PAST_END : size;
}

/**
 * Applies records in bytes[from, to) in order; stops at the first record that is bad or incomplete,
 * or (returning ok) at the first record boundary at or past `stop`. With `end` past `to`, bytes
 * is a view ending before the file's records do (see recordSizeAt): a record must start before
 * `stop` and its header end by `to`.
 */
export function scanRecords(bytes: Uint8Array, from: number, to: number, visit: RecordVisitor, stop = to, end = to): ScanResult {
  let at = from;
  // Blob records are nearly all a pile holds: read their headers as words (magic in four
  // compares, length in two loads). Anything else, or a blob header that is not plainly whole and
  // sane, goes through `recordSizeAt`, which says what is wrong with it.
  const words = LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && from % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
  while (at < to && at < stop) {
    if (words && to - at >= HEADER_LEN) {
      const w = at >>> 2;
      if (words[w] === BLOB_W0 && words[w + 1] === BLOB_W1 && words[w + 2] === BLOB_W2 && words[w + 3] === BLOB_W3) {
        const hi = words[w + 7]!;
        if (hi < 2 ** 16) {
          const length = hi * 2 ** 32 + words[w + 6]!;
          const size = HEADER_LEN + length + paddingFor(length);
          if (size <= end - at) {
            visit.blob(at, length);
            at += size;
            continue;
          }
        }
      }
    }
    const size = recordSizeAt(bytes, at, to, end);
    if (size < 0) {
      // Only a record cut short can be an append still in progress; the rest are bad as written.
      const incomplete = size === PARTIAL_MAGIC || size === PARTIAL_HEADER || size === PAST_END;
      return { ok: false, end: at, incomplete, reason: REASONS[size]! };
    }
    const kind = recordKindAt(bytes, at);
    if (kind === RecordKind.Blob) visit.blob(at, readBlobLength(bytes, at + 24));
    else visit.branch(at, kind === RecordKind.Branch);
    at += size;
  }
  return { ok: true, end: at };
}

/**
 * Whether bytes[at, end) could be what a crash leaves of an append: zeros (space allocated, data
 * never written), or a prefix of one record — part of a magic, a magic with part of its header, or
 * a whole blob header whose payload runs past the end. Headers are 64-byte aligned and never
 * straddle a page, so a crash does not leave a complete header with wrong fields: anything else
 * at the end (unknown bytes, an absurd length, a nil branch id) is damage, not an interrupted write.
 * Whether cutting there is safe is decided by `tail.ts#judgeTail`.
 */
export function looksInterrupted(bytes: Uint8Array, at: number, end: number): boolean {
  if (isZero(bytes.subarray(at, end))) return true;
  const size = recordSizeAt(bytes, at, end);
  if (size === PARTIAL_MAGIC) return isMagicPrefix(bytes, at, end);
  return size === PARTIAL_HEADER || size === PAST_END;
}

/** Whether bytes[at, end) (fewer than 16) are the start of one of the three record magics. */
export function isMagicPrefix(bytes: Uint8Array, at: number, end: number): boolean {
  return [BLOB_MAGIC, BRANCH_MAGIC, TOMBSTONE_MAGIC].some((magic) => bytesEqual(bytes.subarray(at, end), magic.subarray(0, end - at)));
}

/** Whether the record at `at` is a blob header whose (plausible) length runs past `end`. */
export function runsPastEnd(bytes: Uint8Array, at: number, end: number): boolean {
  return recordSizeAt(bytes, at, end) === PAST_END;
}
