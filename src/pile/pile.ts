/**
 * A pile: one append-only file of 64-byte aligned records (FORMATS §6), byte-compatible with the
 * reference. Implements the store interfaces on a file.
 *
 * - Reads go through a `FileView` (one mapping plus a small heap tail); blob reads are zero-copy
 *   views. A snapshot is (image, length) and never sees later appends.
 * - The index maps hash → entry (BlobIndex: typed arrays, keys left in the file); per entry we
 *   keep the offset of its first record and a lazily computed verification state. It only grows,
 *   so snapshots share it and filter by offset.
 * - `refresh()` costs O(new bytes): fstat, and if the file grew, scan only the new headers. It never
 *   hashes: duplicates of a hash are chained and resolved when first read.
 * - Appends are single writes on an O_APPEND descriptor under a shared flock; branch
 *   compare-and-swap holds the exclusive flock across refresh → compare → append.
 *
 * Torn tails: a bad record at the end that looks like an interrupted append and after which
 * nothing parses as a record (or only the payload of the large blob it starts) is a torn tail —
 * what a crash during an append leaves. Under the exclusive lock, by `open` and before any append,
 * it is saved to PILE.damaged-tail-OFFSET and truncated. Anything else is corruption: reported
 * with its offset, never truncated (see `tail.ts#judgeTail`).
 */
import { closeSync, constants, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, writeSync, writevSync } from "node:fs";
import { BATCH_INPUT_MAX, hash as blake3, hashMany } from "../core/blake3.ts";
import { bytesEqual, isZero } from "../core/bytes.ts";
import { noteTransient } from "../core/gc-pacer.ts";
import type { BlobReader, BranchId, CasResult, Hash, Store } from "../core/store.ts";
import { BlobIndex } from "./blob-index.ts";
import { BranchTable } from "./branch-table.ts";
import { PileCorruptError, PileError, PileIntegrityError } from "./errors.ts";
import { type Bytes, FileView, type Region } from "./file-view.ts";
import { lockExclusive, lockShared, unlock, withLock } from "./flock.ts";
import { ATOMIC_WRITE_LIMIT, branchRecord, HEADER_LEN, paddingFor, writeBlobHeaderInto } from "./format.ts";
import { saveAside } from "./save-aside.ts";
import { type RecordVisitor, scanRecords } from "./scan.ts";
import { adviceFor, judgeTail } from "./tail.ts";

// Per-entry state byte: verification of the first record, plus a flag for duplicate records.
const UNVERIFIED = 0;
const VALID = 1;
const INVALID = 2;
const VERIFY_MASK = 3;
const HAS_DUPLICATES = 4;

/** Small blobs are copied into one buffer per write; larger ones go to writev without a copy. */
const COPY_LIMIT = 64 * 1024;
/** Upper bound on bytes assembled for one write call. */
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;
/** Stay under the kernel's IOV_MAX (1024). */
const MAX_IOVECS = 1000;
const ZEROS = new Uint8Array(64);
/**
 * A scan of a fresh mapping gives back the pages it made resident after about this many bytes
 * (see scanReleasing). What it holds is part of an open's peak: 32 MiB windows kept the 1 M W4
 * pile's open peak 20 MB higher, and smaller ones cost no measurable time.
 */
const SCAN_RELEASE_BYTES = 8 * 1024 * 1024;
/**
 * Payloads at least this large are read with positioned reads into a fresh buffer instead of as a
 * view of the mapping: every page of a mapping that is touched stays in the process's resident
 * set until the mapping is collected, so reading a 2 GB file's chunks through it made a checkout
 * or a sync's sender as large as the file. Read this way the bytes pass through the page cache
 * only. Smaller blobs stay zero-copy views (the scan touches their pages anyway).
 */
export const PREAD_MIN = 64 * 1024;

/** A later record with the same hash as an entry's first record (racing writers, re-puts). */
interface Duplicate {
  offset: number;
  /** Payload length (from its header, read at scan time). */
  length: number;
  state: number;
}

type ScanOutcome = { ok: true } | { ok: false; offset: number; incomplete: boolean; reason: string; region: Region };

/** A torn tail cut off a pile: where, how many bytes, the file holding them, and what they were. */
export interface RepairedTail {
  offset: number;
  bytes: number;
  savedTo: string;
  reason: string;
}

/** How `Pile.open` opens a file. */
export interface PileOpenOptions {
  /** Create the file if it does not exist (default true; the CLI passes false except for `create`). */
  create?: boolean;
  /** @internal Records above this many bytes take the exclusive-lock path (default 1 GiB; tests lower it). */
  atomicWriteLimit?: number;
}

export class Pile implements Store {
  private readonly view: FileView;
  /** Bytes of the file applied to the index (always at a record boundary). */
  private applied = 0;
  /** File size at the last scan: refresh does nothing while fstat reports the same size. */
  private seenSize = -1;
  private readonly index = new BlobIndex(PREAD_MIN);
  /** Per entry: the state byte (verification of its first record, HAS_DUPLICATES). */
  private states = new Uint8Array(1024);
  /** Per entry with HAS_DUPLICATES: its later records, in file order. */
  private readonly duplicates = new Map<number, Duplicate[]>();
  private readonly branchTable = new BranchTable();
  /** The region being scanned (the visitor reads through it). */
  private scanBytes: Uint8Array = ZEROS;
  private scanBase = 0;
  /** Nesting depth of `withExclusiveLock` (the flock is held while above 0). */
  private exclusiveDepth = 0;
  /** Appended since the last fsync. */
  private dirty = false;
  /** `flushAsync` calls whose fsync has not returned yet. */
  private flushesInFlight = 0;
  private closed = false;
  /** Torn tails this handle truncated (what an interrupted append left), for callers to report. */
  readonly repairedTails: RepairedTail[] = [];

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly atomicWriteLimit: number,
  ) {
    // Map through our own descriptor so a renamed or replaced path cannot swap the file under us.
    this.view = new FileView(fd, `/proc/self/fd/${fd}`);
  }

  /**
   * Opens a pile, creating an empty file if it does not exist (unless `create: false`), repairs a
   * torn tail, and indexes every record with one scan of the headers.
   */
  static open(path: string, options: PileOpenOptions = {}): Pile {
    const flags = constants.O_RDWR | constants.O_APPEND | (options.create === false ? 0 : constants.O_CREAT);
    let fd: number;
    try {
      fd = openSync(path, flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new PileError(path, `no such pile (create it with \`tribles pile create ${path}\`)`);
      throw new PileError(path, `cannot open pile (${code ?? String(err)})`);
    }
    try {
      if (!fstatSync(fd).isFile()) throw new PileError(path, "not a regular file");
      const pile = new Pile(path, fd, options.atomicWriteLimit ?? ATOMIC_WRITE_LIMIT);
      // Shared-lock scan; if the file ends badly, the exclusive path repairs a torn tail or throws.
      pile.withAppendLock(false, () => undefined);
      return pile;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Picks up records appended since the last refresh, by this or any other process. O(1) if none. */
  refresh(): void {
    this.checkOpen();
    if (fstatSync(this.fd).size === this.seenSize) return;
    if (this.exclusiveDepth > 0) {
      this.withAppendLock(true, () => undefined);
      return;
    }
    // An incomplete last record may be an append in progress: leave it for a later refresh.
    const settled = withLock(this.fd, false, () => {
      const outcome = this.applyNew();
      return outcome.ok || outcome.incomplete;
    });
    // Anything else at the end is either a torn tail (repaired) or corruption (thrown).
    if (!settled) this.withAppendLock(true, () => undefined);
  }

  /**
   * Runs `fn` under a lock after applying new records. If the file ends in a bad record, retries
   * under the exclusive lock (no append can be in progress then), where a torn tail is truncated
   * and corruption is thrown — so nothing is ever appended after a torn record.
   */
  private withAppendLock<T>(exclusive: boolean, fn: () => T): T {
    if (this.exclusiveDepth > 0) {
      // Inside withExclusiveLock: the lock is held already (taking it again on this descriptor
      // would convert or drop it).
      const outcome = this.applyNew();
      if (!outcome.ok) this.truncateTornTail(outcome);
      return fn();
    }
    if (!exclusive) {
      lockShared(this.fd);
      try {
        if (this.applyNew().ok) return fn();
      } finally {
        unlock(this.fd);
      }
    }
    lockExclusive(this.fd);
    try {
      const outcome = this.applyNew();
      if (!outcome.ok) this.truncateTornTail(outcome);
      return fn();
    } finally {
      unlock(this.fd);
    }
  }

  /**
   * Runs `fn` holding the pile's exclusive lock: no other process appends or moves a branch until
   * it returns. This handle's own methods work inside (they see the lock is held); calls nest.
   */
  withExclusiveLock<T>(fn: () => T): T {
    this.checkOpen();
    if (this.exclusiveDepth > 0) return fn();
    lockExclusive(this.fd);
    this.exclusiveDepth++;
    try {
      return fn();
    } finally {
      this.exclusiveDepth--;
      unlock(this.fd);
    }
  }

  /**
   * Under the exclusive lock: saves a torn tail beside the pile and truncates it, or throws if
   * cutting would remove records (see `tail.ts#judgeTail`).
   */
  private truncateTornTail(bad: Extract<ScanOutcome, { ok: false }>): void {
    const { region } = bad;
    const [at, end] = [bad.offset - region.base, region.end - region.base];
    // From the bad record on only (a view, not the mapping: see file-view.ts#SEGMENT).
    const verdict = judgeTail(region.bytes.subarray(at, end), 0, end - at, bad.reason, region.base + at);
    if (!verdict.torn) {
      // A file whose first bytes are no record and that holds no records at all is not a pile
      // (a document passed by mistake): say so, and never treat its content as a torn tail.
      if (bad.offset === 0 && verdict.nothingAfter) throw new PileError(this.path, "not a pile: it does not start with a pile record (file left untouched)");
      throw new PileCorruptError(this.path, bad.offset, verdict.reason, adviceFor(this.path, bad.offset, verdict));
    }
    const savedTo = saveAside(this.path, bad.offset, region.bytes.subarray(at, end));
    ftruncateSync(this.fd, bad.offset);
    fsyncSync(this.fd);
    this.seenSize = bad.offset;
    this.repairedTails.push({ offset: bad.offset, bytes: end - at, savedTo, reason: verdict.reason });
  }

  /** Scans bytes beyond `applied` (caller holds a lock); stops at the first bad or incomplete record. */
  private applyNew(): ScanOutcome {
    const size = fstatSync(this.fd).size;
    if (size < this.applied) {
      throw new PileError(this.path, `the file shrank from ${this.applied} to ${size} bytes while open; refusing to continue`);
    }
    this.seenSize = size;
    if (size === this.applied) return { ok: true };
    const region = this.view.load(this.applied, size);
    this.scanBytes = region.bytes;
    this.scanBase = region.base;
    const result = this.scanReleasing(region);
    this.index.doneAdding();
    this.applied = region.base + result.end;
    this.view.settle(region, this.applied);
    if (result.ok) return { ok: true };
    return { ok: false, offset: this.applied, incomplete: result.incomplete, reason: result.reason, region };
  }

  /**
   * Scans a region from `applied` on. In a fresh mapping, the pages its records' headers made
   * resident (the kernel maps a whole folio, often megabytes, per touched page) are given back
   * every SCAN_RELEASE_BYTES of file and at the end, so opening or growing a pile of
   * large files does not make the file resident. Small records' pages are given back too: at a
   * million blobs of 100 B–4 KiB the scan touches every page, and keeping them left 2.3 GB resident.
   * Each release covers everything scanned so far, not only the last window: an index insert
   * whose fingerprint matches an earlier entry's reads that entry's key in the file, which maps
   * its folio again (about a hundred times at a million blobs, 80 MB left resident after open).
   */
  private scanReleasing(region: Region): ReturnType<typeof scanRecords> {
    const to = region.end - region.base;
    let from = this.applied - region.base;
    if (!region.mapped) return scanRecords(region.bytes, from, to, this.visitor);
    for (;;) {
      // Windows of SCAN_RELEASE_BYTES of file: a scan stops at a record boundary at or past `stop`.
      // Each is scanned through a view twice its size, never the mapping itself (see
      // file-view.ts#SEGMENT): the headers of records starting before `stop` lie in it.
      const stop = Math.min(to, from + SCAN_RELEASE_BYTES);
      const window = region.bytes.subarray(from, Math.min(to, from + 2 * SCAN_RELEASE_BYTES));
      this.scanBytes = window;
      this.scanBase = region.base + from;
      const scanned = scanRecords(window, 0, window.length, this.visitor, stop - from, to - from);
      const result = { ...scanned, end: from + scanned.end };
      this.view.release(0, result.end);
      if (!result.ok || result.end >= to) return result;
      from = result.end;
    }
  }

  private readonly visitor: RecordVisitor = {
    blob: (at, length) => {
      const offset = this.scanBase + at;
      const entry = this.index.add(this.scanBytes, at + 32, offset, this.view.current(), length);
      if (entry >= 0) {
        if (entry >= this.states.length) this.growStates();
        this.states[entry] = UNVERIFIED;
        return;
      }
      // Duplicate hash (FORMATS §6.2): the first valid record wins; decided lazily on read.
      const existing = -1 - entry;
      this.states[existing]! |= HAS_DUPLICATES;
      const list = this.duplicates.get(existing);
      if (list) list.push({ offset, length, state: UNVERIFIED });
      else this.duplicates.set(existing, [{ offset, length, state: UNVERIFIED }]);
    },
    branch: (at, isHead) => {
      if (isHead) this.branchTable.set(this.scanBytes, at + 16, at + 32);
      else this.branchTable.remove(this.scanBytes, at + 16);
    },
  };

  private growStates(): void {
    const states = new Uint8Array(Math.ceil(this.states.length * 1.5));
    states.set(this.states);
    this.states = states;
  }

  /**
   * The payload of the record at `offset`: a view of the image, or for a large record in the
   * mapping a copy read with pread (see PREAD_MIN), so the mapping's pages are not touched.
   */
  private payloadOf(offset: number, size: number, bytes: Bytes): Uint8Array {
    if (offset >= bytes.tailStart || this.closed) return bytes.view(offset + HEADER_LEN, size);
    if (size < PREAD_MIN) return bytes.view(offset + HEADER_LEN, size);
    noteTransient(size);
    const out = new Uint8Array(size);
    for (let got = 0; got < size; ) {
      const n = readSync(this.fd, out, got, size - got, offset + HEADER_LEN + got);
      // Below the applied length the file never shrinks; a short read means it was cut under us.
      if (n === 0) throw new PileError(this.path, `the record at offset ${offset} ends early (the file was cut while open)`);
      got += n;
    }
    return out;
  }

  /** Hashes a record's payload and compares it with its header's hash (every record of an entry has the entry's key). */
  private checkRecord(key: Uint8Array, payload: Uint8Array): number {
    return bytesEqual(blake3(payload), key) ? VALID : INVALID;
  }

  /** Payload length of the entry's first record (kept in the index for a large one, so its header is not touched). */
  private firstLength(entry: number, bytes: Bytes): number {
    const known = this.index.largeLength(entry);
    return known >= 0 ? known : bytes.blobLength(this.index.offsetOf(entry));
  }

  /**
   * Offset of the first record of `entry` below `length` whose payload verifies (hashing each
   * candidate at most once per pile); -1 if every such record is damaged. With `read`, the
   * payload of that record is left in `read.payload` (the bytes hashed, when it was hashed now).
   */
  private firstValidRecord(entry: number, bytes: Bytes, length: number, read?: { payload?: Uint8Array }): number {
    const first = this.index.offsetOf(entry);
    let state = this.states[entry]!;
    if ((state & VERIFY_MASK) === UNVERIFIED) {
      const payload = this.payloadOf(first, this.firstLength(entry, bytes), bytes);
      state |= this.checkRecord(this.index.keyOf(entry, bytes), payload);
      this.states[entry] = state;
      if (read) read.payload = payload;
    }
    if ((state & VERIFY_MASK) === VALID) return first;
    if ((state & HAS_DUPLICATES) === 0) return -1;
    for (const dup of this.duplicates.get(entry) ?? []) {
      if (dup.offset >= length) break;
      let payload: Uint8Array | undefined;
      if (dup.state === UNVERIFIED) {
        payload = this.payloadOf(dup.offset, dup.length, bytes);
        dup.state = this.checkRecord(this.index.keyOf(entry, bytes), payload);
      }
      if (dup.state === VALID) {
        if (read) read.payload = payload;
        return dup.offset;
      }
    }
    return -1;
  }

  /** An immutable snapshot of the blobs as of now. */
  reader(): PileReader {
    this.refresh();
    return new PileReader(this, this.view.current(), this.applied);
  }

  /** @internal used by PileReader: the payload, undefined if absent, or PileIntegrityError. */
  readBlob(hash: Hash, bytes: Bytes, length: number): Uint8Array | undefined {
    const entry = this.index.find(hash, 0, this.view.current());
    if (entry < 0 || this.index.offsetOf(entry) >= length) return undefined;
    const read: { payload?: Uint8Array } = {};
    const offset = this.firstValidRecord(entry, bytes, length, read);
    if (offset < 0) throw new PileIntegrityError(this.path, this.index.offsetOf(entry));
    if (read.payload) return read.payload;
    const size = offset === this.index.offsetOf(entry) ? this.firstLength(entry, bytes) : this.duplicates.get(entry)!.find((d) => d.offset === offset)!.length;
    return this.payloadOf(offset, size, bytes);
  }

  /**
   * @internal Verifies in one hashing batch the first records, below `length`, of those of `hashes`
   * not verified yet. Only small blobs gain from a batch (the kernel hashes them four at a time; a
   * large one already spreads over four lanes), so larger ones, and a lone one, are left to
   * `readBlob`. Duplicates of a damaged record are still tried by `readBlob`, as always.
   */
  checkBlobs(hashes: readonly Hash[], bytes: Bytes, length: number): void {
    const current = this.view.current();
    const entries: number[] = [];
    const payloads: Uint8Array[] = [];
    for (const hash of hashes) {
      const entry = this.index.find(hash, 0, current);
      if (entry < 0 || (this.states[entry]! & VERIFY_MASK) !== UNVERIFIED) continue;
      const offset = this.index.offsetOf(entry);
      const size = offset < length ? this.firstLength(entry, bytes) : Infinity;
      if (size > BATCH_INPUT_MAX) continue;
      entries.push(entry);
      payloads.push(bytes.view(offset + HEADER_LEN, size));
    }
    if (entries.length < 2) return;
    const digests = hashMany(payloads);
    entries.forEach((entry, k) => {
      const header = bytes.view(this.index.offsetOf(entry) + 32, 32);
      this.states[entry] = (this.states[entry]! & ~VERIFY_MASK) | (bytesEqual(digests[k]!, header) ? VALID : INVALID);
    });
  }

  /** @internal The length in the header of the blob's first record below `length` (not verified). */
  blobSize(hash: Hash, bytes: Bytes, length: number): number | undefined {
    const entry = this.index.find(hash, 0, this.view.current());
    if (entry < 0 || this.index.offsetOf(entry) >= length) return undefined;
    return this.firstLength(entry, bytes);
  }

  /** @internal Present below `length` (by header; not verified). */
  hasBlob(hash: Hash, length: number): boolean {
    const entry = this.index.find(hash, 0, this.view.current());
    return entry >= 0 && this.index.offsetOf(entry) < length;
  }

  /** @internal Hashes (views into `bytes`) of entries below `length`, from entry `fromEntry` on, in file order. */
  *listBlobs(bytes: Bytes, length: number, fromEntry = 0): Iterable<Hash> {
    const end = this.index.countBelow(length);
    for (let e = fromEntry; e < end; e++) yield this.index.keyOf(e, bytes);
  }

  /** @internal Number of entries whose first record lies below `length`. */
  countBlobs(length: number): number {
    return this.index.countBelow(length);
  }

  /** Number of distinct blobs indexed so far (cheap; for progress and diffs). */
  get blobCount(): number {
    return this.index.size;
  }

  /** Branch records applied so far (this or other processes' appends): see `BranchStore.branchVersion`. */
  branchVersion(): number {
    this.refresh();
    return this.branchTable.changes;
  }

  /** Bytes of the file applied so far. */
  get length(): number {
    return this.applied;
  }

  /** Bytes held by the in-memory blob index (for the memory benchmark). */
  get indexBytes(): number {
    return this.index.byteLength + this.states.byteLength;
  }

  /** Extra slots lookups visit in the blob index, summed (BlobIndex.displacement): tests count probing with it. */
  get indexDisplacement(): number {
    return this.index.displacement;
  }

  /** Memory mappings this handle has created so far (re-maps are rare by design). */
  get mappingCount(): number {
    return this.view.mappings;
  }

  put(bytes: Uint8Array): Hash {
    return this.putMany([bytes])[0]!;
  }

  /**
   * Stores blobs with as few write calls as possible under the shared lock; a blob already
   * present with a valid record is not written again. Records over 1 GiB are written one at a time
   * under the exclusive lock (they cannot be one atomic append), as the reference does.
   */
  putMany(blobs: readonly Uint8Array[]): Hash[] {
    this.checkOpen();
    const hashes = hashMany(blobs);
    this.append(blobs, hashes);
    return hashes;
  }

  /**
   * Stores blobs under hashes the caller computed (see BlobStorePut.putVerified). The hashes are
   * written as given and not trusted further: each record is still verified when first read.
   */
  putVerified(blobs: readonly Uint8Array[], hashes: readonly Hash[]): void {
    this.checkOpen();
    if (hashes.length !== blobs.length) throw new Error(`putVerified: ${blobs.length} blobs but ${hashes.length} hashes`);
    for (const h of hashes) if (h.length !== 32) throw new Error("putVerified: every hash must be 32 bytes");
    this.append(blobs, hashes);
  }

  /** Appends the blobs that have no valid record yet, under the given hashes. */
  private append(blobs: readonly Uint8Array[], hashes: readonly Hash[]): void {
    const normal: number[] = [];
    const huge: number[] = [];
    for (let i = 0; i < blobs.length; i++) (recordSize(blobs[i]!.length) > this.atomicWriteLimit ? huge : normal).push(i);
    if (normal.length > 0) {
      this.withAppendLock(false, () => {
        const pending = this.missing(normal, hashes);
        if (pending.length === 0) return;
        this.appendBlobs(pending, blobs, hashes);
        this.applyOwnAppend();
      });
    }
    for (const i of huge) {
      this.withAppendLock(true, () => {
        if (this.missing([i], hashes).length === 0) return;
        const blob = blobs[i]!;
        const header = new Uint8Array(HEADER_LEN);
        writeBlobHeaderInto(header, 0, hashes[i]!, blob.length, Date.now());
        this.dirty = true;
        writeAll(this.fd, header);
        writeAll(this.fd, blob);
        writeAll(this.fd, ZEROS.subarray(0, paddingFor(blob.length)));
        this.applyOwnAppend();
      });
    }
  }

  /** Indices (of `candidates`) whose hash has no valid record yet, first occurrence only. */
  private missing(candidates: number[], hashes: readonly Hash[]): number[] {
    const bytes = this.view.current();
    const out: number[] = [];
    for (const i of candidates) {
      const entry = this.index.find(hashes[i]!, 0, bytes);
      if (entry < 0 || this.firstValidRecord(entry, bytes, this.applied) < 0) out.push(i);
    }
    return out.length > 1 ? firstOccurrences(out, hashes) : out;
  }

  /** Indexes what we just appended; a bad record before it (another writer's) is an error. */
  private applyOwnAppend(): void {
    const outcome = this.applyNew();
    if (!outcome.ok && !outcome.incomplete) throw new PileCorruptError(this.path, outcome.offset, outcome.reason);
  }

  private appendBlobs(order: number[], blobs: readonly Uint8Array[], hashes: readonly Hash[]): void {
    const now = Date.now();
    this.dirty = true;
    let start = 0;
    while (start < order.length) {
      // Choose a batch: at most WRITE_BATCH_BYTES (or one record) and MAX_IOVECS parts.
      let end = start;
      let batchBytes = 0;
      let iovecs = 0;
      let stagedBytes = 0;
      while (end < order.length) {
        const length = blobs[order[end]!]!.length;
        const size = recordSize(length);
        const parts = length > COPY_LIMIT ? 4 : 1;
        if (end > start && (batchBytes + size > WRITE_BATCH_BYTES || iovecs + parts > MAX_IOVECS)) break;
        batchBytes += size;
        iovecs += parts;
        if (length <= COPY_LIMIT) stagedBytes += size;
        end++;
      }
      // Small records are copied (header, payload, zero padding) into one buffer; large payloads
      // are passed to writev as they are, between their header and padding.
      const staged = new Uint8Array(stagedBytes);
      const parts: Uint8Array[] = [];
      let used = 0;
      let runStart = 0;
      for (let k = start; k < end; k++) {
        const i = order[k]!;
        const blob = blobs[i]!;
        if (blob.length <= COPY_LIMIT) {
          writeBlobHeaderInto(staged, used, hashes[i]!, blob.length, now);
          staged.set(blob, used + HEADER_LEN);
          used += recordSize(blob.length);
          continue;
        }
        if (used > runStart) parts.push(staged.subarray(runStart, used));
        runStart = used;
        const header = new Uint8Array(HEADER_LEN);
        writeBlobHeaderInto(header, 0, hashes[i]!, blob.length, now);
        parts.push(header, blob);
        const pad = paddingFor(blob.length);
        if (pad > 0) parts.push(ZEROS.subarray(0, pad));
      }
      if (used > runStart) parts.push(staged.subarray(runStart, used));
      writevAll(this.fd, parts);
      start = end;
    }
  }

  branches(): BranchId[] {
    this.refresh();
    return this.branchTable.liveIds();
  }

  head(id: BranchId): Hash | null {
    checkBranchId(id);
    this.refresh();
    return this.branchTable.head(id);
  }

  /**
   * Compare-and-swap across processes: moves `id` from `expected` to `next` (null deletes it).
   * Holds the exclusive lock across refresh → compare → append, so exactly one racer wins.
   */
  update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult {
    this.checkOpen();
    checkBranchId(id);
    if (expected !== null && expected.length !== 32) throw new Error("expected head must be a 32-byte hash or null");
    if (next !== null && next.length !== 32) throw new Error("new head must be a 32-byte hash or null");
    return this.withAppendLock(true, (): CasResult => {
      const current = this.branchTable.head(id);
      const matches = current === null ? expected === null : expected !== null && bytesEqual(current, expected);
      if (!matches) return { ok: false, current };
      if (current === null && next === null) return { ok: true };
      this.dirty = true;
      writeAll(this.fd, branchRecord(id, next));
      this.applyOwnAppend();
      return { ok: true };
    });
  }

  /**
   * Makes every append of this handle so far durable (fsync); nothing to do when it appended
   * nothing since the last flush. A sync flushes after each round, also the rounds in which it
   * only noticed another process's appends: that fsync blocked its event loop for 5-10 ms just as
   * it had pushed a new head, and the peer's fetch of that head waited for it (bench sync, W3
   * through pile net sync). Appends by other processes are theirs to flush.
   */
  flush(): void {
    this.checkOpen();
    if (!this.dirty) return;
    fsyncSync(this.fd);
    this.dirty = false;
  }

  /**
   * `flush` off the event loop: resolves once every append of this handle before the call is
   * durable. The fsync runs on a worker thread, so a sync keeps serving peers meanwhile (on this
   * machine's disk one fsync took 6-40 ms, and a peer's fetch waited behind it). Appends made
   * while it runs are left for the next flush.
   */
  flushAsync(): Promise<void> {
    this.checkOpen();
    if (!this.dirty) return Promise.resolve();
    this.dirty = false;
    this.flushesInFlight++;
    return new Promise<void>((resolve, reject) => {
      fsync(this.fd, (err) => {
        this.flushesInFlight--;
        if (!err || this.closed) return resolve(); // a close in between fsynced everything itself
        this.dirty = true; // not durable: the next flush tries again
        reject(new PileError(this.path, `fsync failed: ${err.message}`));
      });
    });
  }

  /** Flushes this handle's appends (as the reference's close does) and closes the file. */
  close(): void {
    if (this.closed) return;
    try {
      if (this.dirty || this.flushesInFlight > 0) fsyncSync(this.fd);
    } finally {
      this.closed = true;
      closeSync(this.fd);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new PileError(this.path, "pile is closed");
  }
}

/** A snapshot: every blob whose first record lies below `length`, read from the image taken with it. */
export class PileReader implements BlobReader {
  private cachedLen = -1;

  constructor(
    private readonly pile: Pile,
    private readonly bytes: Bytes,
    /** File length this snapshot covers. */
    readonly length: number,
  ) {}

  /**
   * The blob, undefined if absent; PileIntegrityError if damaged. A zero-copy view (do not mutate),
   * except for blobs of PREAD_MIN bytes or more, which are read into a fresh buffer.
   */
  get(hash: Hash): Uint8Array | undefined {
    return this.pile.readBlob(hash, this.bytes, this.length);
  }

  has(hash: Hash): boolean {
    return this.pile.hasBlob(hash, this.length);
  }

  sizeOf(hash: Hash): number | undefined {
    return this.pile.blobSize(hash, this.bytes, this.length);
  }

  checkMany(hashes: readonly Hash[]): void {
    this.pile.checkBlobs(hashes, this.bytes, this.length);
  }

  list(): Iterable<Hash> {
    return this.pile.listBlobs(this.bytes, this.length);
  }

  /** Blobs first indexed at or after entry number `fromEntry` (entries are numbered in file order). */
  listFrom(fromEntry: number): Iterable<Hash> {
    return this.pile.listBlobs(this.bytes, this.length, fromEntry);
  }

  get len(): number {
    if (this.cachedLen < 0) this.cachedLen = this.pile.countBlobs(this.length);
    return this.cachedLen;
  }
}

/** Drops later repeats of a hash within one batch (open addressing over indices into `hashes`). */
function firstOccurrences(order: number[], hashes: readonly Hash[]): number[] {
  let size = 16;
  while (size < order.length * 2) size *= 2;
  const slots = new Int32Array(size).fill(-1);
  const out: number[] = [];
  for (const i of order) {
    const h = hashes[i]!;
    let slot = (h[0]! | (h[1]! << 8) | (h[2]! << 16)) & (size - 1); // hashes we computed: uniform
    for (;;) {
      const other = slots[slot]!;
      if (other < 0) {
        slots[slot] = i;
        out.push(i);
        break;
      }
      if (bytesEqual(hashes[other]!, h)) break;
      slot = (slot + 1) & (size - 1);
    }
  }
  return out;
}

function recordSize(length: number): number {
  return HEADER_LEN + length + paddingFor(length);
}

function checkBranchId(id: BranchId): void {
  if (id.length !== 16 || isZero(id)) throw new Error("branch id must be 16 bytes and not nil");
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

function writevAll(fd: number, parts: Uint8Array[]): void {
  let total = 0;
  for (const p of parts) total += p.length;
  const written = writevSync(fd, parts);
  if (written === total) return;
  // A short write on a regular file is rare (disk full, signal); finish the remainder in order.
  let skip = written;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    writeAll(fd, p.subarray(skip));
    skip = 0;
  }
}
