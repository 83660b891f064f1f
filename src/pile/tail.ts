/**
 * What to do with a pile's bytes from its first bad record to the end: cut them (a torn tail,
 * what a crash during an append leaves) or refuse (cutting would remove records). One verdict
 * serves opening (which cuts torn tails), `diagnose` (which reports it) and `repair`.
 *
 * The rule: a cut never removes anything that parses as a record — a blob whose payload matches
 * its hash, a branch record or a tombstone — found on the 64-byte grid after the bad record, with
 * one exception that is recognised, not guessed: a large blob cut short whose own payload holds
 * pile records (a pile stored as a blob, killed mid-write). Its header's length runs past the
 * end, and everything after the header is explained as its payload: a run of records from the
 * payload's start, possibly ending in a record cut short the same way, and nothing valid beyond.
 * The same picture arises from a length field damaged in the middle of a pile whose last append
 * was then torn; three checks tell it apart, and when any fails we refuse:
 * - no valid record lies outside the run;
 * - no blob record in the run was written later than the header (records appended after a blob
 *   are newer; the payload of a blob existed before it was written);
 * - the header's payload does not verify at a shorter length ending where a record that could
 *   have been appended after it begins (a damaged length over an intact payload would).
 * A damaged length over a payload that is damaged too, itself a pile, and followed only by records
 * of the same millisecond would pass all three: that triple fault is cut, and saved beside the pile.
 */
import { Blake3Hasher, hash as blake3 } from "../core/blake3.ts";
import { bytesEqual } from "../core/bytes.ts";
import { HEADER_LEN, MAGIC_LEN, RecordKind, readBlobLength, recordKindAt } from "./format.ts";
import { isMagicPrefix, looksInterrupted, recordSizeAt, runsPastEnd } from "./scan.ts";

export interface TailVerdict {
  /** Cutting at the bad record loses no record: opening does it (after saving the bytes aside). */
  torn: boolean;
  /** No record that parses (and verifies, for blobs) lies after the bad one. */
  nothingAfter: boolean;
  /** What the bad record is, and what follows it: the message diagnose prints and open throws. */
  reason: string;
  /** The bad record is itself a complete blob whose length field is damaged (its payload verifies). */
  intact?: boolean;
}

/** A record found after the bad one; `unchecked`: a blob header the hashing budget left unverified. */
interface Found {
  at: number;
  kind: "blob" | "branch" | "tombstone" | "unchecked";
}

/**
 * Judges bytes[at, end), where `at` is the first bad record a scan found (`scanReason` says why).
 * Indices into `bytes` must be 64-byte aligned exactly where file offsets are (`base` is the file
 * offset of bytes[0], used only in messages).
 */
export function judgeTail(bytes: Uint8Array, at: number, end: number, scanReason: string, base = 0): TailVerdict {
  const offset = (i: number) => base + i;
  const budget = { left: 64 * 2 ** 20 + 2 * (end - at) };
  if (!looksInterrupted(bytes, at, end)) {
    const found = findRecord(bytes, at + HEADER_LEN, end, budget);
    return { torn: false, nothingAfter: found === null, reason: found ? `${scanReason}, and ${describe(found, offset)} follows it` : scanReason };
  }
  // Zeros, part of a magic, part of a header: nothing can follow. Only a blob header whose length
  // runs past the end has bytes after it to account for.
  if (!runsPastEnd(bytes, at, end)) return { torn: true, nothingAfter: true, reason: scanReason };
  const claimed = readBlobLength(bytes, at + 24);
  const payloadStart = at + HEADER_LEN;
  const unexplained = unexplainedPayload(bytes, at, end, budget);
  if (unexplained) {
    return {
      torn: false,
      nothingAfter: false,
      reason: `${scanReason}, and ${describeUnexplained(unexplained, offset)}: either its length field is damaged and real records follow it, or it is a large blob cut short whose payload holds pile records`,
    };
  }
  const trueLength = verifyingLength(bytes, at, end);
  if (trueLength === UNDECIDED) {
    return {
      torn: false,
      nothingAfter: false,
      reason: `${scanReason}, and what follows holds too many records to rule out a damaged length field with real records after it (it may be a large blob cut short whose payload holds pile records)`,
    };
  }
  if (trueLength >= 0) {
    const recordEnd = payloadStart + trueLength + ((HEADER_LEN - (trueLength % HEADER_LEN)) % HEADER_LEN);
    return {
      torn: false,
      nothingAfter: false,
      intact: true,
      reason: `${scanReason}: its length field says ${claimed} bytes, but its payload verifies with ${trueLength} bytes, so the length field is damaged and the record is intact${recordEnd < end ? `, with ${end - recordEnd} bytes of records after it` : ""}`,
    };
  }
  const holdsRecords = end - payloadStart >= MAGIC_LEN && recordKindAt(bytes, payloadStart) !== 0;
  return {
    torn: true,
    nothingAfter: findRecord(bytes, payloadStart, end, budget) === null,
    reason: holdsRecords ? `${scanReason} (a large blob cut short: ${end - payloadStart} of its ${claimed} payload bytes were written, and they hold pile records)` : scanReason,
  };
}

/** What a user can do about the bad record at `offset` of the pile at `path`. */
export function adviceFor(path: string, offset: number, verdict: TailVerdict): string {
  if (verdict.torn) return `an interrupted write: the next command that opens the pile saves these bytes to ${path}.damaged-tail-${offset} and cuts them off`;
  if (verdict.nothingAfter) {
    if (offset === 0) return "this file is not a pile";
    return `nothing valid follows it: \`tribles pile repair ${path}\` saves these bytes to ${path}.damaged-tail-${offset} and cuts them off`;
  }
  if (verdict.intact) return `the record is intact, so nothing is cut automatically: \`tribles pile repair --force ${path}\` would save it and everything after it to ${path}.damaged-tail-${offset} and cut the pile there`;
  return `records follow it, so nothing is cut automatically: \`tribles pile repair --force ${path}\` would save everything from offset ${offset} on to ${path}.damaged-tail-${offset} and cut the pile there`;
}

/**
 * First record at a 64-byte boundary in [from, end) that parses: a branch record or tombstone with
 * a non-nil id, or a complete blob record whose payload hashes to its header. Hashing stops when
 * `budget` runs out (only crafted files get there); the blob header then counts as found.
 */
function findRecord(bytes: Uint8Array, from: number, end: number, budget: { left: number }): Found | null {
  for (let p = from; p + HEADER_LEN <= end; p += HEADER_LEN) {
    const kind = recordKindAt(bytes, p);
    if (kind === 0) continue;
    const size = recordSizeAt(bytes, p, end);
    if (size < 0) continue;
    if (kind === RecordKind.Branch) return { at: p, kind: "branch" };
    if (kind === RecordKind.Tombstone) return { at: p, kind: "tombstone" };
    const length = readBlobLength(bytes, p + 24);
    if (length > budget.left) return { at: p, kind: "unchecked" };
    budget.left -= length;
    const payload = bytes.subarray(p + HEADER_LEN, p + HEADER_LEN + length);
    if (bytesEqual(blake3(payload), bytes.subarray(p + 32, p + 64))) return { at: p, kind: "blob" };
  }
  return null;
}

function describe(found: Found, offset: (i: number) => number): string {
  if (found.kind === "unchecked") return `a blob record at offset ${offset(found.at)} (too many record headers after the damage to verify them all)`;
  return `a valid ${found.kind} record at offset ${offset(found.at)}`;
}

/** Most payload lengths `verifyingLength` hashes (each costs tens of µs) before it gives up. */
const MAX_LENGTHS_TRIED = 1 << 15;
const UNDECIDED = -2;

/**
 * The payload length (< the claimed one) at which the blob at `at` verifies; -1 if none does;
 * UNDECIDED past MAX_LENGTHS_TRIED. Called once the bytes after the header read as records (see
 * `unexplainedPayload`); a damaged length then hides a true end where one of those records, or the
 * end of the file, begins: at the start of the payload (an empty blob), at a branch record or
 * tombstone, at a blob written at the same millisecond (the same batch), or at the end. The
 * payload may end up to 63 bytes earlier, followed by zero padding. One pass of an incremental
 * hash over the bytes after the header.
 */
function verifyingLength(bytes: Uint8Array, at: number, end: number): number {
  const want = bytes.subarray(at + 32, at + 64);
  const written = timestampOf(bytes, at);
  const start = at + HEADER_LEN;
  const hasher = new Blake3Hasher();
  let fed = start;
  let tried = 0;
  for (let q = start; q <= end; q += HEADER_LEN) {
    if (!couldEndBefore(bytes, q, end, start, written)) continue;
    let first = q;
    const lowest = Math.max(start, q - (HEADER_LEN - 1));
    while (first > lowest && bytes[first - 1] === 0) first--;
    for (let e = first; e <= q; e++) {
      if (++tried > MAX_LENGTHS_TRIED) return UNDECIDED;
      hasher.update(bytes.subarray(fed, e));
      fed = e;
      if (bytesEqual(hasher.digest(), want)) return e - start;
    }
  }
  return -1;
}

/** Whether the blob whose payload starts at `start` (written at `written`) could end just before `q`. */
function couldEndBefore(bytes: Uint8Array, q: number, end: number, start: number, written: number): boolean {
  if (q === end || q === start) return true;
  if (end - q < MAGIC_LEN) return isMagicPrefix(bytes, q, end);
  const kind = recordKindAt(bytes, q);
  if (kind === RecordKind.Branch || kind === RecordKind.Tombstone) return true;
  return kind === RecordKind.Blob && end - q >= HEADER_LEN && timestampOf(bytes, q) === written;
}

/** Why the bytes after the blob header at `at` cannot all be its payload. */
type Unexplained = { newer: number } | { outside: Found };

/**
 * Checks that bytes after the header at `at` read as the start of its payload holding pile
 * records: a run of records (each blob no newer than the header), where a record cut short opens
 * a nested run inside its own payload, ending at the end of the file, in an interrupted record, or
 * in bytes holding no valid record. Returns null when they do, else what does not fit.
 */
function unexplainedPayload(bytes: Uint8Array, at: number, end: number, budget: { left: number }): Unexplained | null {
  const written = timestampOf(bytes, at);
  let p = at + HEADER_LEN;
  for (;;) {
    for (let size = recordSizeAt(bytes, p, end); size > 0; size = recordSizeAt(bytes, p, end)) {
      if (recordKindAt(bytes, p) === RecordKind.Blob && timestampOf(bytes, p) > written) return { newer: p };
      p += size;
    }
    if (p >= end) return null;
    if (runsPastEnd(bytes, p, end)) {
      if (timestampOf(bytes, p) > written) return { newer: p };
      p += HEADER_LEN;
      continue;
    }
    if (looksInterrupted(bytes, p, end)) return null;
    const found = findRecord(bytes, p, end, budget);
    return found ? { outside: found } : null;
  }
}

function describeUnexplained(u: Unexplained, offset: (i: number) => number): string {
  if ("newer" in u) return `the blob record at offset ${offset(u.newer)} inside what would be its payload was written after it`;
  return `${describe(u.outside, offset)} lies beyond the records its payload would hold`;
}

/** The header's write time in ms (a u64; values past 2^53 lose precision, harmless for ordering). */
function timestampOf(bytes: Uint8Array, at: number): number {
  let value = 0;
  for (let i = 7; i >= 0; i--) value = value * 256 + bytes[at + 16 + i]!;
  return value;
}

export interface RecordCounts {
  blobs: number;
  branches: number;
  tombstones: number;
}

/**
 * Records in bytes[from, end) as a reader that resynchronises would find them: runs of
 * well-formed records starting at 64-byte boundaries (a blob's payload is skipped, not searched).
 * Blobs are not hashed: this counts what a cut would throw away, not what verifies. `onBranch`
 * sees each branch record and tombstone found, in order.
 */
export function countRecords(bytes: Uint8Array, from: number, end: number, onBranch?: (at: number, isHead: boolean) => void): RecordCounts {
  const counts: RecordCounts = { blobs: 0, branches: 0, tombstones: 0 };
  for (let p = from; p + HEADER_LEN <= end; ) {
    const size = recordKindAt(bytes, p) === 0 ? -1 : recordSizeAt(bytes, p, end);
    if (size < 0) {
      p += HEADER_LEN;
      continue;
    }
    const kind = recordKindAt(bytes, p);
    if (kind === RecordKind.Blob) counts.blobs++;
    else if (kind === RecordKind.Branch) counts.branches++;
    else counts.tombstones++;
    if (kind !== RecordKind.Blob) onBranch?.(p, kind === RecordKind.Branch);
    p += size;
  }
  return counts;
}
