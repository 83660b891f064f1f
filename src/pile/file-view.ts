/**
 * How one process sees the bytes of a pile file: one memory mapping of a prefix of the file plus a
 * small heap "tail" holding bytes read after the mapping was taken.
 *
 * `Bun.mmap` maps the file at its current size and cannot grow, and old mappings are only released
 * by the garbage collector. Re-mapping on every small append would pile up mappings, so small
 * growth is read with `readSync` into the tail and the file is re-mapped only when the tail would
 * grow large. Records starting before `tailStart` are read from the mapping, the rest from the tail.
 *
 * A `Bytes` value is immutable in the parts a snapshot reads: files only grow, bytes below the
 * applied length never change, and the tail is only written at or beyond the applied length.
 */
import { readSync } from "node:fs";
import { FOLIO, releasePages } from "./release-pages.ts";

/** Growth up to this many bytes is read into the tail; more re-maps the file. */
export const TAIL_READ_MAX = 256 * 1024;
/** The tail never grows beyond this; the next growth re-maps the file instead. */
export const TAIL_MAX = 4 * 1024 * 1024;
/**
 * Resident bytes that reads through a mapping may make before its pages are given back: a server
 * reading a whole pile of small blobs for a peer otherwise ends with the whole file in its RSS.
 */
export const RESIDENT_RELEASE_BYTES = 32 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * Counts what reads through one mapping make resident and gives the mapping's pages back once
 * that passes RESIDENT_RELEASE_BYTES. A read's cost is the folios it enters, not its length: the
 * kernel maps the whole folio of a touched page (up to FOLIO bytes), so a few thousand small reads
 * spread over a file made gigabytes resident while a count of their bytes stayed under budget.
 * Each folio counts once until it is given back: a server checking which chunks of a commit name
 * blobs goes back and forth between the few folios holding them (counting every change of folio
 * gave back the whole mapping every hundred reads, a third of a sender's time).
 */
export class ResidentMeter {
  /** Per folio of the mapping: 1 once a read touched it since it was last given back. */
  private readonly touched: Uint8Array;
  private counted = 0;
  /** Releases so far (for tests). */
  releases = 0;

  constructor(readonly map: Uint8Array) {
    this.touched = new Uint8Array(Math.ceil(map.length / FOLIO));
  }

  /** Notes a read of file bytes [offset, offset + length) through the mapping. */
  note(offset: number, length: number): void {
    const last = Math.floor((offset + Math.max(length, 1) - 1) / FOLIO);
    for (let f = Math.floor(offset / FOLIO); f <= last; f++) {
      if (this.touched[f]) continue;
      this.touched[f] = 1;
      this.counted += FOLIO;
    }
    if (this.counted >= RESIDENT_RELEASE_BYTES) this.release(0, this.map.length);
  }

  /** Gives back the mapping's resident pages within [from, to); the folios wholly inside count no more. */
  release(from: number, to: number): void {
    if (this.map.length === 0) return;
    releasePages(this.map, from, to);
    this.releases++;
    const end = to >= this.map.length ? this.touched.length : Math.floor(to / FOLIO);
    for (let f = Math.ceil(Math.max(0, from) / FOLIO); f < end; f++) {
      if (!this.touched[f]) continue;
      this.touched[f] = 0;
      this.counted -= FOLIO;
    }
  }
}

const NO_MAP = new ResidentMeter(EMPTY);

/**
 * Code never indexes a mapping directly, only views of at most SEGMENT bytes: JavaScriptCore
 * indexes a typed array over 2 GiB several times slower (4× for the open scan of a 2.3 GB pile),
 * and a function that has once been given one stays slow for every array after. A header read
 * (the key, the length) lies in one 64-byte aligned header, so never across two segments.
 */
export const SEGMENT = 2 ** 30;

/** Segment k of a mapping: its bytes [k × SEGMENT, (k + 1) × SEGMENT). */
function segmentsOf(map: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < map.length; at += SEGMENT) out.push(map.subarray(at, Math.min(map.length, at + SEGMENT)));
  return out;
}

/**
 * A readable image of the file: a mapping of [0, map.length) and a tail of [tailStart, …). Reads
 * of the mapping are noted on its meter, so what they make resident is given back in time.
 */
export class Bytes {
  /** The mapping in segments (see SEGMENT): header reads index these, never the mapping. */
  private readonly segments: Uint8Array[];

  constructor(
    readonly map: Uint8Array,
    readonly tailStart: number,
    readonly tail: Uint8Array,
    private readonly meter: ResidentMeter = NO_MAP,
  ) {
    this.segments = segmentsOf(map);
  }

  /** `length` bytes at file offset `offset` (a view, no copy). The range must lie in one record. */
  view(offset: number, length: number): Uint8Array {
    if (offset < this.tailStart) {
      this.meter.note(offset, length);
      return this.map.subarray(offset, offset + length);
    }
    const at = offset - this.tailStart;
    return this.tail.subarray(at, at + length);
  }

  /** Whether the 32 bytes at file offset `offset` equal `key[keyAt..+32]` (no view is made). */
  equals32(offset: number, key: Uint8Array, keyAt: number): boolean {
    let b = this.tail;
    let at = offset - this.tailStart;
    if (offset < this.tailStart) {
      this.meter.note(offset, 32);
      const k = Math.floor(offset / SEGMENT);
      b = this.segments[k]!;
      at = offset - k * SEGMENT;
    }
    for (let i = 0; i < 32; i++) if (b[at + i] !== key[keyAt + i]) return false;
    return true;
  }

  /** The unpadded payload length of the blob record at `offset` (already bounded by the scan). */
  blobLength(offset: number): number {
    let b = this.tail;
    let at = offset + 24 - this.tailStart;
    if (offset < this.tailStart) {
      this.meter.note(offset, 32);
      const k = Math.floor((offset + 24) / SEGMENT);
      b = this.segments[k]!;
      at = offset + 24 - k * SEGMENT;
    }
    return b[at]! + b[at + 1]! * 2 ** 8 + b[at + 2]! * 2 ** 16 + b[at + 3]! * 2 ** 24 + (b[at + 4]! + b[at + 5]! * 2 ** 8) * 2 ** 32;
  }
}

/** New bytes ready to scan: file offsets [from, end) are `bytes[from - base, end - base)`. */
export interface Region {
  bytes: Uint8Array;
  base: number;
  end: number;
  /** True when the region is a fresh mapping (the tail restarts after the scan). */
  mapped: boolean;
}

export class FileView {
  private map: Uint8Array = EMPTY;
  private tailStart = 0;
  private tail: Uint8Array = EMPTY;
  private image = new Bytes(EMPTY, 0, EMPTY);
  private meter = NO_MAP;
  /** Mappings created by this view (for tests and the bench). */
  mappings = 0;

  constructor(
    private readonly fd: number,
    private readonly mapPath: string,
  ) {}

  /** The current image: covers every applied record, and during a scan the region too. */
  current(): Bytes {
    return this.image;
  }

  /**
   * Makes file bytes [from, size) readable in one array. `from` is the applied length (a record
   * boundary); nothing below it is rewritten, so snapshots holding the old arrays stay valid.
   */
  load(from: number, size: number): Region {
    const tailBytes = size - this.tailStart;
    if (size - from <= TAIL_READ_MAX && tailBytes <= TAIL_MAX && from >= this.tailStart) return this.readTail(from, size);
    this.map = Bun.mmap(this.mapPath, { shared: false });
    this.meter = new ResidentMeter(this.map);
    this.mappings++;
    // Until `settle`, everything is read from the fresh mapping (it covers the whole file).
    this.image = new Bytes(this.map, Number.POSITIVE_INFINITY, EMPTY, this.meter);
    return { bytes: this.map, base: 0, end: this.map.length, mapped: true };
  }

  /**
   * Gives back the resident pages of the current mapping within file bytes [from, to) (see
   * release-pages.ts): views stay valid and fault the bytes in again when read.
   */
  release(from: number, to: number): void {
    this.meter.release(from, to);
  }

  /** After a scan of a fresh mapping: records from `applied` on will come from a new tail. */
  settle(region: Region, applied: number): void {
    if (!region.mapped) return;
    this.tailStart = applied;
    this.tail = EMPTY; // a new buffer: old snapshots keep the old one unchanged
    this.image = new Bytes(this.map, this.tailStart, this.tail, this.meter);
  }

  private readTail(from: number, size: number): Region {
    const at = from - this.tailStart;
    const need = size - this.tailStart;
    if (need > this.tail.length) {
      // Keep the applied bytes; anything past `from` is provisional and re-read now.
      const grown = new Uint8Array(Math.min(TAIL_MAX, Math.max(need, this.tail.length * 2, 64 * 1024)));
      grown.set(this.tail.subarray(0, at));
      this.tail = grown;
      this.image = new Bytes(this.map, this.tailStart, this.tail, this.meter);
    }
    let got = 0;
    while (at + got < need) {
      const n = readSync(this.fd, this.tail, at + got, need - at - got, from + got);
      if (n === 0) break; // the file shrank under us (a torn tail was truncated); scan what we have
      got += n;
    }
    return { bytes: this.tail, base: this.tailStart, end: from + got, mapped: false };
  }
}
