/**
 * The pile's blob index: hash → entry number, with each entry's record offset. It is the same open
 * addressing over typed arrays as core's HashIndex, but it does not copy the 32-byte keys: every
 * key already sits in the file (bytes 32..64 of its record header), so a slot holds only the entry
 * number and a 32-bit fingerprint, and a full compare reads the header through the file image.
 * That keeps the index at 25–46 bytes per blob (targets: ≤ 64) and an insert at about one cache
 * miss, which is what makes open and refresh fast.
 *
 * Records of `largeMin` bytes or more are the exception: their key and length are copied into the
 * index (a few per MiB of file), so looking one up never touches the file's mapping. A touched
 * page of a mapping stays resident (and the kernel maps whole folios, up to megabytes, per
 * touch), so a 2 GB file's 2,048 chunk headers would otherwise make the whole file resident.
 *
 * Hashes in a pile file are untrusted (headers are only verified when a blob is read), so the probe
 * position is core's keyed hash of all 32 bytes (core/keyed-hash.ts, per-process random
 * coefficients): a crafted file cannot pile its records into one probe chain.
 */
import { LITTLE_ENDIAN } from "../core/bytes.ts";
import { noteTransient } from "../core/gc-pacer.ts";
import { keyedHash32, keyedHash32Words, slotShift } from "../core/keyed-hash.ts";
import type { Bytes } from "./file-view.ts";

/**
 * Least bits of the presence filter: one bit per value of a key's first bits. Most lookups of
 * hashes that are not in the pile (CHILDREN scans every 32-byte chunk of a blob) stop at one bit
 * test instead of hashing all 32 bytes. A false positive only costs the full lookup. The filter
 * grows with the index (FILTER_BITS_PER_ENTRY), so it stays sparse: at a fixed 2^21 bits a million
 * blobs set 38% of them and CHILDREN scans went through the full lookup that often.
 */
const FILTER_MIN_BITS = 1 << 21;
/** Filter bits per entry (rounded up to a power of two): at 16, about 6% of absent keys pass. */
const FILTER_BITS_PER_ENTRY = 16;

export class BlobIndex {
  /**
   * Pairs per slot: [entry + 1 (0 = empty), the key's keyed hash]. The hash's top bits pick the
   * slot and it doubles as a fingerprint, so growing never reads keys back from the file.
   * Power-of-two size.
   */
  private slots = new Int32Array(2 * 2048);
  private mask = 2047;
  private shift = slotShift(2048);
  private count = 0;
  /** Per entry: file offset of its first record's header (offsets grow with entry number). */
  private offsets = new Float64Array(1024);
  /** Per entry: 1 when its first record is large (its key and length are in `large`). */
  private isLarge = new Uint8Array(1024);
  /** Key and payload length of each large entry (see the file's comment). */
  private readonly large = new Map<number, { key: Uint8Array; length: number }>();
  /** The presence filter (see FILTER_MIN_BITS), indexed by the key's first word's low bits. */
  private filter = new Uint32Array(FILTER_MIN_BITS / 32);
  private filterMask = FILTER_MIN_BITS - 1;
  /** Per entry: its key's first word, so the filter can be rebuilt larger without reading the file. */
  private firstWords = new Int32Array(1024);
  /** Lookups that passed the filter (hashed and probed the slots): for tests, which count work. */
  fullLookups = 0;
  /** The array a scan is adding keys from, and its 32-bit words (see `wordsOf`). */
  private wordsKey: Uint8Array | null = null;
  private words: Uint32Array | null = null;

  /** @param largeMin records with payloads of this many bytes or more keep their key in memory. */
  constructor(private readonly largeMin = Number.POSITIVE_INFINITY) {}

  /** Number of entries (distinct hashes). */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the index's arrays. */
  get byteLength(): number {
    return this.slots.byteLength + this.offsets.byteLength + this.isLarge.byteLength + this.filter.byteLength + this.firstWords.byteLength + this.large.size * 96;
  }

  /**
   * Extra slots visited to find every entry, summed (linear probing's cost, as core's
   * HashIndex.displacement): about one per entry when hashes spread, about size² / 2 when they all
   * start in one place. Walks the table, so tests can count work instead of timing it.
   */
  get displacement(): number {
    const slots = this.slots;
    let total = 0;
    for (let slot = 0; slot <= this.mask; slot++) {
      if (slots[2 * slot] === 0) continue;
      total += (slot - (slots[2 * slot + 1]! >>> this.shift)) & this.mask;
    }
    return total;
  }

  /** Header offset of the entry's first record. */
  offsetOf(entry: number): number {
    return this.offsets[entry]!;
  }

  /** The entry's hash, as a view into `bytes` (which must cover the entry), or the index's copy for a large entry. */
  keyOf(entry: number, bytes: Bytes): Uint8Array {
    if (this.isLarge[entry]) return this.large.get(entry)!.key;
    return bytes.view(this.offsets[entry]! + 32, 32);
  }

  /** The payload length of a large entry's first record; -1 for other entries (read it from the header). */
  largeLength(entry: number): number {
    return this.isLarge[entry] ? this.large.get(entry)!.length : -1;
  }

  /** Entry of the hash `key[keyAt..+32]`, or -1. `bytes` must cover every indexed record. */
  find(key: Uint8Array, keyAt: number, bytes: Bytes): number {
    const bit = wordAt(key, keyAt) & this.filterMask;
    if ((this.filter[bit >>> 5]! & (1 << (bit & 31))) === 0) return -1;
    this.fullLookups++;
    const fingerprint = keyedHash32(key, keyAt);
    let slot = fingerprint >>> this.shift;
    for (;;) {
      const stored = this.slots[2 * slot]!;
      if (stored === 0) return -1;
      if (this.slots[2 * slot + 1] === fingerprint && this.keyEquals(stored - 1, key, keyAt, bytes)) return stored - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Indexes the record at `offset` whose hash is `key[keyAt..+32]`. Returns the new entry number,
   * or `-1 - existing` when the hash is already indexed (the caller handles the duplicate).
   */
  add(key: Uint8Array, keyAt: number, offset: number, bytes: Bytes, length = 0): number {
    const words = keyAt % 4 === 0 ? this.wordsOf(key) : null;
    const fingerprint = words ? keyedHash32Words(words, keyAt >>> 2) : keyedHash32(key, keyAt);
    let slot = fingerprint >>> this.shift;
    for (;;) {
      const stored = this.slots[2 * slot]!;
      if (stored === 0) break;
      if (this.slots[2 * slot + 1] === fingerprint && this.keyEquals(stored - 1, key, keyAt, bytes)) return -stored;
      slot = (slot + 1) & this.mask;
    }
    const entry = this.count++;
    const word = words ? words[keyAt >>> 2]! | 0 : wordAt(key, keyAt);
    const bit = word & this.filterMask;
    this.filter[bit >>> 5] = this.filter[bit >>> 5]! | (1 << (bit & 31));
    if (entry >= this.offsets.length) this.offsets = grownOffsets(this.offsets);
    if (entry >= this.firstWords.length) {
      const grown = new Int32Array(this.offsets.length);
      grown.set(this.firstWords);
      noteTransient(this.firstWords.byteLength);
      this.firstWords = grown;
    }
    this.firstWords[entry] = word;
    this.offsets[entry] = offset;
    if (entry >= this.isLarge.length) {
      const grown = new Uint8Array(this.offsets.length);
      grown.set(this.isLarge);
      noteTransient(this.isLarge.byteLength);
      this.isLarge = grown;
    }
    if (length >= this.largeMin) {
      this.isLarge[entry] = 1;
      this.large.set(entry, { key: key.slice(keyAt, keyAt + 32), length });
    }
    this.slots[2 * slot] = entry + 1;
    this.slots[2 * slot + 1] = fingerprint;
    if (this.count * 2 > this.mask + 1) this.grow();
    if (this.count * FILTER_BITS_PER_ENTRY > this.filterMask + 1) this.growFilter();
    return entry;
  }

  /**
   * Forgets the array the last adds read keys from. A scan adds thousands of keys from one array
   * (a mapping or the tail) and reads them as words; the view must not keep an old mapping alive.
   */
  doneAdding(): void {
    this.wordsKey = null;
    this.words = null;
  }

  /** `key` as 32-bit words when that reads the same bytes (4-byte aligned, little-endian), else null. */
  private wordsOf(key: Uint8Array): Uint32Array | null {
    if (key !== this.wordsKey) {
      this.wordsKey = key;
      this.words = LITTLE_ENDIAN && key.byteOffset % 4 === 0 ? new Uint32Array(key.buffer, key.byteOffset, key.length >>> 2) : null;
    }
    return this.words;
  }

  /** Number of entries whose first record starts below `length` (binary search: offsets increase). */
  countBelow(length: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < length) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private keyEquals(entry: number, key: Uint8Array, keyAt: number, bytes: Bytes): boolean {
    if (this.isLarge[entry]) {
      const own = this.large.get(entry)!.key;
      for (let i = 0; i < 32; i++) if (own[i] !== key[keyAt + i]) return false;
      return true;
    }
    return bytes.equals32(this.offsets[entry]! + 32, key, keyAt);
  }

  /** Doubles the presence filter, re-setting every entry's bit from its stored first word. */
  private growFilter(): void {
    const bits = (this.filterMask + 1) * 2;
    noteTransient(this.filter.byteLength);
    this.filter = new Uint32Array(bits / 32);
    this.filterMask = bits - 1;
    const { filter, firstWords } = this;
    for (let e = 0; e < this.count; e++) {
      const bit = firstWords[e]! & (bits - 1);
      filter[bit >>> 5] = filter[bit >>> 5]! | (1 << (bit & 31));
    }
  }

  /** Doubles the slot table, re-placing every entry by its stored hash. */
  private grow(): void {
    const old = this.slots;
    noteTransient(old.byteLength);
    this.slots = new Int32Array(old.length * 2);
    this.mask = old.length - 1; // twice the old slot count, minus one
    this.shift = slotShift(old.length);
    for (let s = 0; s < old.length; s += 2) {
      const stored = old[s]!;
      if (stored === 0) continue;
      let slot = old[s + 1]! >>> this.shift;
      while (this.slots[2 * slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[2 * slot] = stored;
      this.slots[2 * slot + 1] = old[s + 1]!;
    }
  }
}

function grownOffsets(old: Float64Array): Float64Array<ArrayBuffer> {
  const out = new Float64Array(Math.ceil(old.length * 1.5));
  out.set(old);
  noteTransient(old.byteLength);
  return out;
}

function wordAt(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
