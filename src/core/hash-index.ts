/**
 * An insert-only open-addressing table keyed by 32-byte hashes, built on typed arrays.
 *
 * It maps a hash to a dense entry number (0, 1, 2, … in insertion order); callers keep whatever
 * they need per entry in their own parallel typed arrays (the pile keeps record offsets, the memory
 * store keeps blobs). Keys are BLAKE3 digests, so their leading bytes are already uniform and serve
 * directly as the probe start: no hex, no string keys, no per-entry objects.
 */

const KEY_LEN = 32;
const EMPTY = -1;

export class HashIndex {
  /** Keys in entry order, 32 bytes each. */
  private keys: Uint8Array;
  /** Open-addressing slots holding entry numbers, or EMPTY. Length is a power of two. */
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let slotCount = 16;
    while (slotCount < initialCapacity * 2) slotCount *= 2;
    this.slots = new Int32Array(slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
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
    const mask = this.mask;
    let slot = probeStart(key, offset) & mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY) return -1;
      if (this.keyEquals(entry, key, offset)) return entry;
      slot = (slot + 1) & mask;
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
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const entry = this.count++;
    // Byte by byte: for 32 bytes, a loop beats making a view and a native copy per insert.
    const keys = this.keys;
    const base = entry * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) keys[base + i] = key[offset + i]!;
    this.place(entry);
    return entry;
  }

  /** The key of an entry, as a view (do not mutate). */
  keyAt(entry: number): Uint8Array {
    return this.keys.subarray(entry * KEY_LEN, entry * KEY_LEN + KEY_LEN);
  }

  private keyEquals(entry: number, key: Uint8Array, offset: number): boolean {
    const keys = this.keys;
    const base = entry * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) if (keys[base + i] !== key[offset + i]) return false;
    return true;
  }

  private place(entry: number): void {
    const mask = this.mask;
    let slot = probeStart(this.keys, entry * KEY_LEN) & mask;
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.slots[slot] = entry;
  }

  private grow(): void {
    const slotCount = this.slots.length * 2;
    this.slots = new Int32Array(slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    const keys = new Uint8Array((slotCount / 2) * KEY_LEN);
    keys.set(this.keys.subarray(0, this.count * KEY_LEN));
    this.keys = keys;
    for (let e = 0; e < this.count; e++) this.place(e);
  }
}

function probeStart(key: Uint8Array, offset: number): number {
  return (key[offset]! | (key[offset + 1]! << 8) | (key[offset + 2]! << 16) | (key[offset + 3]! << 24)) >>> 0;
}
