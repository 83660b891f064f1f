/**
 * Branch id → head, for the branch records of a pile. Open addressing over typed arrays (no string
 * keys). Branch ids come from an untrusted file and need not be random, so the probe start mixes
 * all 16 bytes instead of trusting the leading ones. Entries are never removed: a tombstone only
 * marks its branch as not live, so the table holds every id the file has ever named.
 */

const ID_LEN = 16;
const HEAD_LEN = 32;
const EMPTY = -1;

export class BranchTable {
  private ids = new Uint8Array(16 * ID_LEN);
  private heads = new Uint8Array(16 * HEAD_LEN);
  private live = new Uint8Array(16);
  private slots = new Int32Array(32).fill(EMPTY);
  private count = 0;
  /** Grows by one per set or remove: tells a reader whether any branch moved since it last looked. */
  changes = 0;

  /** Sets the head of the id at `bytes[idAt..+16]` to `bytes[headAt..+32]`. */
  set(bytes: Uint8Array, idAt: number, headAt: number): void {
    const entry = this.entryFor(bytes, idAt, true);
    this.heads.set(bytes.subarray(headAt, headAt + HEAD_LEN), entry * HEAD_LEN);
    this.live[entry] = 1;
    this.changes++;
  }

  /** Marks the id at `bytes[idAt..+16]` as deleted. */
  remove(bytes: Uint8Array, idAt: number): void {
    const entry = this.entryFor(bytes, idAt, false);
    if (entry >= 0) this.live[entry] = 0;
    this.changes++;
  }

  /** The live head of `id` (a copy), or null. */
  head(id: Uint8Array): Uint8Array | null {
    const entry = this.entryFor(id, 0, false);
    if (entry < 0 || this.live[entry] === 0) return null;
    return this.heads.slice(entry * HEAD_LEN, entry * HEAD_LEN + HEAD_LEN);
  }

  /** Ids of live branches (copies), in the order they first appeared. */
  liveIds(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let e = 0; e < this.count; e++) if (this.live[e] === 1) out.push(this.ids.slice(e * ID_LEN, e * ID_LEN + ID_LEN));
    return out;
  }

  /** Entry of the id, adding it when `add` is set; -1 if absent and not added. */
  private entryFor(bytes: Uint8Array, at: number, add: boolean): number {
    const mask = this.slots.length - 1;
    let slot = mix(bytes, at) & mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY) break;
      if (this.idEquals(entry, bytes, at)) return entry;
      slot = (slot + 1) & mask;
    }
    if (!add) return -1;
    if ((this.count + 1) * 2 > this.slots.length) {
      this.grow();
      return this.entryFor(bytes, at, true);
    }
    const entry = this.count++;
    this.ids.set(bytes.subarray(at, at + ID_LEN), entry * ID_LEN);
    this.slots[slot] = entry;
    return entry;
  }

  private idEquals(entry: number, bytes: Uint8Array, at: number): boolean {
    const base = entry * ID_LEN;
    for (let i = 0; i < ID_LEN; i++) if (this.ids[base + i] !== bytes[at + i]) return false;
    return true;
  }

  private grow(): void {
    const capacity = this.live.length * 2;
    this.ids = grown(this.ids, capacity * ID_LEN);
    this.heads = grown(this.heads, capacity * HEAD_LEN);
    this.live = grown(this.live, capacity);
    this.slots = new Int32Array(capacity * 2).fill(EMPTY);
    const mask = this.slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let slot = mix(this.ids, e * ID_LEN) & mask;
      while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.slots[slot] = e;
    }
  }
}

function grown(old: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  out.set(old);
  return out;
}

/** A 32-bit mix of all 16 id bytes (multiply-xorshift per word). */
function mix(b: Uint8Array, at: number): number {
  let h = 0x9e3779b9;
  for (let w = 0; w < 16; w += 4) {
    const word = b[at + w]! | (b[at + w + 1]! << 8) | (b[at + w + 2]! << 16) | (b[at + w + 3]! << 24);
    h = Math.imul(h ^ word, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h >>> 0;
}
