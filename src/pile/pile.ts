/**
 * A pile: one append-only file of 64-byte aligned records (FORMATS §6), byte-compatible with the
 * reference. Implements the store interfaces on a file.
 *
 * - Reads go through a `Bun.mmap` of the file; blob reads are zero-copy views. A snapshot is
 *   (mapping, length) and never sees later appends.
 * - The index maps hash → entry (HashIndex over typed arrays); per entry we keep the payload offset
 *   and a lazily computed verification state. It only grows, so snapshots share it and filter by offset.
 * - `refresh()` costs O(new bytes): fstat, and if the file grew, re-map and scan only new headers.
 * - Appends are single writes on an O_APPEND descriptor under a shared flock; branch
 *   compare-and-swap holds the exclusive flock across refresh → compare → append.
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync, writevSync } from "node:fs";
import { hash as blake3, hashMany } from "../core/blake3.ts";
import { bytesEqual, isZero } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, BranchId, CasResult, Hash, Store } from "../core/store.ts";
import { PileCorruptError, PileIntegrityError } from "./errors.ts";
import { lockExclusive, lockShared, unlock, withLock } from "./flock.ts";
import { ATOMIC_WRITE_LIMIT, branchRecord, HEADER_LEN, paddingFor, writeBlobHeaderInto } from "./format.ts";
import { isTornTail, type RecordVisitor, scanRecords } from "./scan.ts";

const UNVERIFIED = 0;
const VALID = 1;
const INVALID = 2;
/** Small blobs are copied into one buffer per write; larger ones go to writev without a copy. */
const COPY_LIMIT = 64 * 1024;
/** Upper bound on bytes assembled for one write call. */
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_IOVECS = 1000;
const EMPTY = new Uint8Array(0);

export interface PileOpenOptions {
  /** Create the file if it does not exist (default true). */
  create?: boolean;
}

export class Pile implements Store {
  private readonly fd: number;
  private map: Uint8Array = EMPTY;
  /** Bytes of the file applied to the index (always at a record boundary). */
  private applied = 0;
  private readonly index = new HashIndex(1024);
  /** Per entry: file offset of the blob's payload, and its verification state. */
  private payloadOffsets = new Float64Array(1024);
  private verification = new Uint8Array(1024);
  private readonly branchHeads = new Map<string, { id: BranchId; head: Hash }>();
  private closed = false;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
  }

  /** Opens (and by default creates) a pile, repairs a torn tail, and indexes every record. */
  static open(path: string, options: PileOpenOptions = {}): Pile {
    const flags = constants.O_RDWR | constants.O_APPEND | (options.create === false ? 0 : constants.O_CREAT);
    let fd: number;
    try {
      fd = openSync(path, flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new Error(`${path}: no such pile (create it with \`tribles pile create ${path}\`)`);
      throw new Error(`${path}: cannot open pile (${code ?? String(err)})`);
    }
    const pile = new Pile(path, fd);
    try {
      pile.restore();
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return pile;
  }

  /**
   * Indexes the file; if it ends in a torn record (a crash mid-append), truncates that tail under
   * the exclusive lock. A bad record followed by valid ones is reported, never truncated.
   */
  private restore(): void {
    const first = withLock(this.fd, false, () => this.scanNew(false));
    if (first.ok) return;
    withLock(this.fd, true, () => {
      const again = this.scanNew(false);
      if (again.ok) return;
      const size = fstatSync(this.fd).size;
      if (!isTornTail(this.map, again.end, size)) throw new PileCorruptError(this.path, again.end, again.reason);
      ftruncateSync(this.fd, again.end);
      fsyncSync(this.fd);
      this.map = EMPTY;
      this.remap(again.end);
    });
  }

  /** Picks up records appended since the last refresh, by this or any other process. */
  refresh(): void {
    this.checkOpen();
    const result = this.scanNew(true);
    if (!result.ok) throw new PileCorruptError(this.path, result.end, result.reason);
  }

  /** Scans bytes beyond `applied`. With `tolerateTail`, an incomplete last record is left for later (an append in progress). */
  private scanNew(tolerateTail: boolean): { ok: true } | { ok: false; end: number; reason: string } {
    const size = fstatSync(this.fd).size;
    if (size === this.applied) return { ok: true };
    if (size < this.applied) {
      throw new Error(`${this.path}: the file shrank from ${this.applied} to ${size} bytes while open; refusing to continue`);
    }
    this.remap(size);
    const result = scanRecords(this.map, this.applied, this.map.length, this.visitor);
    this.applied = result.end;
    if (result.ok || (tolerateTail && result.incomplete)) return { ok: true };
    return { ok: false, end: result.end, reason: result.reason };
  }

  private remap(size: number): void {
    if (this.map.length >= size) return;
    this.map = size === 0 ? EMPTY : Bun.mmap(this.path, { shared: true });
  }

  private readonly visitor: RecordVisitor = {
    blob: (at, length) => {
      const { entry, added } = this.index.insert(this.map, at + 32);
      if (added) {
        this.ensureEntryCapacity(entry + 1);
        this.payloadOffsets[entry] = at + HEADER_LEN;
        this.verification[entry] = UNVERIFIED;
        return;
      }
      // Duplicate hash: keep the earlier record if it verifies, else take this one (FORMATS §6.2).
      if (this.verify(entry, this.map) !== VALID) {
        this.payloadOffsets[entry] = at + HEADER_LEN;
        this.verification[entry] = UNVERIFIED;
      }
      void length;
    },
    branch: (at, isHead) => {
      const id = this.map.slice(at + 16, at + 32);
      const key = branchKey(id);
      if (isHead) this.branchHeads.set(key, { id, head: this.map.slice(at + 32, at + 64) });
      else this.branchHeads.delete(key);
    },
  };

  private ensureEntryCapacity(n: number): void {
    if (n <= this.payloadOffsets.length) return;
    const size = Math.max(n, this.payloadOffsets.length * 2);
    const offsets = new Float64Array(size);
    offsets.set(this.payloadOffsets);
    this.payloadOffsets = offsets;
    const states = new Uint8Array(size);
    states.set(this.verification);
    this.verification = states;
  }

  /** Checks an entry's payload against its hash once, and remembers the answer. */
  private verify(entry: number, map: Uint8Array): number {
    const state = this.verification[entry]!;
    if (state !== UNVERIFIED) return state;
    const payload = this.payloadView(entry, map);
    const ok = bytesEqual(blake3(payload), this.index.keyAt(entry));
    this.verification[entry] = ok ? VALID : INVALID;
    return this.verification[entry]!;
  }

  private payloadView(entry: number, map: Uint8Array): Uint8Array {
    const offset = this.payloadOffsets[entry]!;
    const lengthAt = offset - 40;
    const length = map[lengthAt]! + map[lengthAt + 1]! * 2 ** 8 + map[lengthAt + 2]! * 2 ** 16 + map[lengthAt + 3]! * 2 ** 24 + (map[lengthAt + 4]! + map[lengthAt + 5]! * 2 ** 8) * 2 ** 32;
    return map.subarray(offset, offset + length);
  }

  /** An immutable snapshot of the blobs as of now. */
  reader(): PileReader {
    this.refresh();
    return new PileReader(this, this.map, this.applied);
  }

  /** @internal used by PileReader. */
  readBlob(hash: Hash, map: Uint8Array, length: number): Uint8Array | undefined {
    const entry = this.index.find(hash);
    if (entry < 0 || this.payloadOffsets[entry]! >= length) return undefined;
    if (this.verify(entry, map) === INVALID) throw new PileIntegrityError(this.path, this.payloadOffsets[entry]! - HEADER_LEN);
    return this.payloadView(entry, map);
  }

  /** @internal */
  hasBlob(hash: Hash, length: number): boolean {
    const entry = this.index.find(hash);
    return entry >= 0 && this.payloadOffsets[entry]! < length;
  }

  /** @internal */
  *listBlobs(length: number, fromEntry = 0): Iterable<Hash> {
    const count = this.index.size;
    for (let e = fromEntry; e < count; e++) if (this.payloadOffsets[e]! < length) yield this.index.keyAt(e);
  }

  /** @internal number of entries visible below `length`. */
  countBlobs(length: number): number {
    if (length >= this.applied) return this.index.size;
    let n = 0;
    for (let e = 0; e < this.index.size; e++) if (this.payloadOffsets[e]! < length) n++;
    return n;
  }

  /** Number of distinct blobs indexed so far (cheap; for progress and diffs). */
  get blobCount(): number {
    return this.index.size;
  }

  /** Bytes of the file applied so far. */
  get length(): number {
    return this.applied;
  }

  /** Bytes held by the in-memory index (for the memory benchmark). */
  get indexBytes(): number {
    return this.index.byteLength + this.payloadOffsets.byteLength + this.verification.byteLength;
  }

  put(bytes: Uint8Array): Hash {
    return this.putMany([bytes])[0]!;
  }

  /** Stores blobs with as few write calls as possible; blobs already present and valid are skipped. */
  putMany(blobs: readonly Uint8Array[]): Hash[] {
    this.checkOpen();
    const hashes = hashMany(blobs);
    const pending: number[] = [];
    const batch = new HashIndex(Math.max(16, blobs.length));
    lockShared(this.fd);
    try {
      this.scanNew(true);
      for (let i = 0; i < blobs.length; i++) {
        const h = hashes[i]!;
        const entry = this.index.find(h);
        if (entry >= 0 && this.verify(entry, this.map) === VALID) continue;
        if (!batch.insert(h).added) continue;
        if (HEADER_LEN + blobs[i]!.length + paddingFor(blobs[i]!.length) > ATOMIC_WRITE_LIMIT) continue;
        pending.push(i);
      }
      this.appendBlobs(pending, blobs, hashes);
      this.scanNew(true);
    } finally {
      unlock(this.fd);
    }
    // Records over 1 GiB cannot be one atomic append: write them under the exclusive lock.
    for (let i = 0; i < blobs.length; i++) {
      const blob = blobs[i]!;
      if (HEADER_LEN + blob.length + paddingFor(blob.length) <= ATOMIC_WRITE_LIMIT) continue;
      withLock(this.fd, true, () => {
        this.scanNew(true);
        const entry = this.index.find(hashes[i]!);
        if (entry >= 0 && this.verify(entry, this.map) === VALID) return;
        const header = new Uint8Array(HEADER_LEN);
        writeBlobHeaderInto(header, 0, hashes[i]!, blob.length, Date.now());
        writeAll(this.fd, header);
        writeAll(this.fd, blob);
        writeAll(this.fd, new Uint8Array(paddingFor(blob.length)));
        this.scanNew(true);
      });
    }
    return hashes;
  }

  private appendBlobs(order: number[], blobs: readonly Uint8Array[], hashes: Hash[]): void {
    const now = Date.now();
    let parts: Uint8Array[] = [];
    let staged = new Uint8Array(0);
    let stagedUsed = 0;
    let batchBytes = 0;
    const flushStaged = () => {
      if (stagedUsed > 0) parts.push(staged.subarray(0, stagedUsed));
      staged = new Uint8Array(0);
      stagedUsed = 0;
    };
    const flushWrite = () => {
      flushStaged();
      if (parts.length > 0) writevAll(this.fd, parts);
      parts = [];
      batchBytes = 0;
    };
    for (const i of order) {
      const blob = blobs[i]!;
      const pad = paddingFor(blob.length);
      const size = HEADER_LEN + blob.length + pad;
      if (batchBytes > 0 && (batchBytes + size > WRITE_BATCH_BYTES || parts.length + 4 > MAX_IOVECS)) flushWrite();
      if (blob.length <= COPY_LIMIT) {
        if (stagedUsed + size > staged.length) {
          flushStaged();
          staged = new Uint8Array(Math.max(size, Math.min(WRITE_BATCH_BYTES, 256 * 1024)));
        }
        writeBlobHeaderInto(staged, stagedUsed, hashes[i]!, blob.length, now);
        staged.set(blob, stagedUsed + HEADER_LEN);
        staged.fill(0, stagedUsed + HEADER_LEN + blob.length, stagedUsed + size);
        stagedUsed += size;
      } else {
        flushStaged();
        const header = new Uint8Array(HEADER_LEN + pad);
        writeBlobHeaderInto(header, 0, hashes[i]!, blob.length, now);
        parts.push(header.subarray(0, HEADER_LEN), blob);
        if (pad) parts.push(header.subarray(HEADER_LEN));
      }
      batchBytes += size;
    }
    flushWrite();
  }

  branches(): BranchId[] {
    this.refresh();
    return [...this.branchHeads.values()].map((b) => b.id.slice());
  }

  head(id: BranchId): Hash | null {
    this.refresh();
    return this.branchHeads.get(branchKey(id))?.head.slice() ?? null;
  }

  /** Compare-and-swap across processes: moves `id` from `expected` to `next` (null deletes it). */
  update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult {
    this.checkOpen();
    if (id.length !== 16 || isZero(id)) throw new Error("branch id must be 16 bytes and not nil");
    if (next !== null && next.length !== 32) throw new Error("branch head must be a 32-byte hash");
    lockExclusive(this.fd);
    try {
      this.refresh();
      const current = this.branchHeads.get(branchKey(id))?.head ?? null;
      const matches = current === null ? expected === null : expected !== null && bytesEqual(current, expected);
      if (!matches) return { ok: false, current: current?.slice() ?? null };
      if (current === null && next === null) return { ok: true };
      writeAll(this.fd, branchRecord(id, next));
      this.refresh();
      return { ok: true };
    } finally {
      unlock(this.fd);
    }
  }

  /** Makes every append so far durable (fsync). */
  flush(): void {
    this.checkOpen();
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.path}: pile is closed`);
  }
}

/** A snapshot: every blob whose record lies below `length`, read from the mapping taken with it. */
export class PileReader implements BlobReader {
  private cachedLen = -1;

  constructor(
    private readonly pile: Pile,
    private readonly map: Uint8Array,
    /** File length this snapshot covers. */
    readonly length: number,
  ) {}

  get(hash: Hash): Uint8Array | undefined {
    return this.pile.readBlob(hash, this.map, this.length);
  }

  has(hash: Hash): boolean {
    return this.pile.hasBlob(hash, this.length);
  }

  list(): Iterable<Hash> {
    return this.pile.listBlobs(this.length);
  }

  /** Blobs first indexed at or after entry number `fromEntry` (entries are numbered in file order). */
  listFrom(fromEntry: number): Iterable<Hash> {
    return this.pile.listBlobs(this.length, fromEntry);
  }

  get len(): number {
    if (this.cachedLen < 0) this.cachedLen = this.pile.countBlobs(this.length);
    return this.cachedLen;
  }
}

function branchKey(id: BranchId): string {
  return String.fromCharCode(...id);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

function writevAll(fd: number, parts: Uint8Array[]): void {
  const total = parts.reduce((n, p) => n + p.length, 0);
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
