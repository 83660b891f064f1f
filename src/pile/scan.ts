/**
 * Walks pile records over a byte range and reports each one; it never hashes and never allocates
 * from a length field. The same walk serves refresh, restore and diagnose.
 */
import { isZero } from "../core/bytes.ts";
import { HEADER_LEN, MAGIC_LEN, MAX_BLOB_LEN, paddingFor, RecordKind, readBlobLength, recordKindAt } from "./format.ts";

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

/** Applies records in bytes[from, to) in order; stops at the first record that is bad or incomplete. */
export function scanRecords(bytes: Uint8Array, from: number, to: number, visit: RecordVisitor): ScanResult {
  let at = from;
  while (at < to) {
    const left = to - at;
    if (left < MAGIC_LEN) return { ok: false, end: at, incomplete: true, reason: "partial record magic" };
    const kind = recordKindAt(bytes, at);
    if (kind === 0) return { ok: false, end: at, incomplete: false, reason: "unknown record magic" };
    if (left < HEADER_LEN) return { ok: false, end: at, incomplete: true, reason: "partial record header" };
    if (kind === RecordKind.Blob) {
      const length = readBlobLength(bytes, at + 24);
      if (length < 0 || length > MAX_BLOB_LEN) {
        return { ok: false, end: at, incomplete: true, reason: "blob length field is implausibly large" };
      }
      const size = HEADER_LEN + length + paddingFor(length);
      if (size > left) return { ok: false, end: at, incomplete: true, reason: `blob of ${length} bytes runs past the end of the file` };
      visit.blob(at, length);
      at += size;
    } else {
      if (isZero(bytes.subarray(at + 16, at + 32))) {
        return { ok: false, end: at, incomplete: false, reason: "branch record with a nil branch id" };
      }
      visit.branch(at, kind === RecordKind.Branch);
      at += HEADER_LEN;
    }
  }
  return { ok: true, end: at };
}

const ignore: RecordVisitor = { blob() {}, branch() {} };

/**
 * Whether the damage at `badAt` is a torn tail: true when no run of valid records starting at a
 * later 64-byte boundary reaches the end of the file. If such a run exists, truncating would throw
 * away real records, so the damage is in the middle and must be reported instead.
 */
export function isTornTail(bytes: Uint8Array, badAt: number, end: number): boolean {
  for (let at = badAt + HEADER_LEN; at + HEADER_LEN <= end; at += HEADER_LEN) {
    if (recordKindAt(bytes, at) === 0) continue;
    if (scanRecords(bytes, at, end, ignore).ok) return false;
  }
  return true;
}
