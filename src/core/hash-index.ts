/**
 * An insert-only open-addressing table keyed by 32-byte hashes, built on typed arrays.
 *
 * It maps a hash to a dense entry number (0, 1, 2, … in insertion order); callers keep whatever
 * they need per entry in their own parallel typed arrays (the pile keeps record offsets, the memory
 * store keeps blobs). No hex, no string keys, no per-entry objects.
 *
 * Keys are often chosen by someone else (hashes a peer claims during a fetch, before any blob
 * proves them), so the probe position is a keyed hash of all 32 bytes (core/keyed-hash.ts), not
 * the key's leading bytes: keys crafted to share a prefix spread like random ones.
 */
import { keyedHash32, slotShift } from "./keyed-hash.ts";

const KEY_LEN = 32;
const EMPTY = -1;

export class HashIndex {
  /** Keys in entry order, 32 bytes each. */
  private keys: Uint8Array;
  /**
   * Pairs per slot: [entry number or EMPTY, the key's keyed hash]. The hash picks the slot (top
   * bits) and doubles as a fingerprint, so a probe rarely reads a key and growing reads none.
   * The slot count is a power of two.
   */
  private slots: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let slotCount = 16;
    while (slotCount < initialCapacity * 2) slotCount *= 2;
    this.slots = new Int32Array(2 * slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    this.shift = slotShift(slotCount);
    this.keys = new Uint8Array((slotCount / 2) * KEY_LEN);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays (for memory accounting). */
  get byteLength(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }

  /** Entry number of `key[offset..offset+32]`, or -1 if absent. */
  find(key: Uint8Array, offset = 0): number {
    const hash = keyedHash32(key, offset);
    const slots = this.slots;
    let slot = hash >>> this.shift;
    for (;;) {
      const entry = slots[2 * slot]!;
      if (entry === EMPTY) return -1;
      if (slots[2 * slot + 1] === hash && this.keyEquals(entry, key, offset)) return entry;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Entry number for the key, adding it if absent. `added` tells which happened. */
  insert(key: Uint8Array, offset = 0): { entry: number; added: boolean } {
    const found = this.find(key, offset);
    if (found !== -1) return { entry: found, added: false };
    return { entry: this.append(key, offset), added: true };
  }

  /**
   * Adds a key known to be absent (the caller just called `find`). Returns its entry number.
   * Splitting find and append lets hot loops probe once.
   */
  append(key: Uint8Array, offset = 0): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const entry = this.count++;
    // Byte by byte: for 32 bytes, a loop beats making a view and a native copy per insert.
    const keys = this.keys;
    const base = entry * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) keys[base + i] = key[offset + i]!;
    this.place(entry, keyedHash32(key, offset));
    return entry;
  }

  /** The key of an entry, as a view (do not mutate). */
  keyAt(entry: number): Uint8Array {
    return this.keys.subarray(entry * KEY_LEN, entry * KEY_LEN + KEY_LEN);
  }

  /** Copies the key of an entry into `out[at..at+32]` (no view is made: for copying many). */
  copyKey(entry: number, out: Uint8Array, at: number): void {
    const keys = this.keys;
    const base = entry * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) out[at + i] = keys[base + i]!;
  }

  /**
   * Extra slots a lookup of every present key visits beyond its first, in total: about size / 2
   * for keys that spread well, about size² / 2 for keys that all start in one place. Computed on
   * demand (it walks the table), so tests can count work instead of timing it.
   */
  get displacement(): number {
    const slots = this.slots;
    let total = 0;
    for (let slot = 0; slot <= this.mask; slot++) {
      if (slots[2 * slot] === EMPTY) continue;
      total += (slot - (slots[2 * slot + 1]! >>> this.shift)) & this.mask;
    }
    return total;
  }

  private keyEquals(entry: number, key: Uint8Array, offset: number): boolean {
    const keys = this.keys;
    const base = entry * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) if (keys[base + i] !== key[offset + i]) return false;
    return true;
  }

  private place(entry: number, hash: number): void {
    const slots = this.slots;
    let slot = hash >>> this.shift;
    while (slots[2 * slot] !== EMPTY) slot = (slot + 1) & this.mask;
    slots[2 * slot] = entry;
    slots[2 * slot + 1] = hash;
  }

  /** Doubles the slot table, re-placing every entry by its stored hash. */
  private grow(): void {
    const old = this.slots;
    const slotCount = (this.mask + 1) * 2;
    this.slots = new Int32Array(2 * slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    this.shift = slotShift(slotCount);
    const keys = new Uint8Array((slotCount / 2) * KEY_LEN);
    keys.set(this.keys.subarray(0, this.count * KEY_LEN));
    this.keys = keys;
    for (let s = 0; s < old.length; s += 2) if (old[s] !== EMPTY) this.place(old[s]!, old[s + 1]!);
  }
}
