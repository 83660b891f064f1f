/**
 * A set of tribles, kept as one flat buffer of 64-byte records in canonical order (sorted by all 64
 * bytes, no duplicates). Adds append to the buffer; the first read after adds sorts and dedupes
 * once. Canonical order is exactly the SimpleArchive byte order, so encoding is a copy.
 */
import { bytesEqual } from "./bytes.ts";
import type { Id } from "./id.ts";
import { TRIBLE_LEN, trible } from "./trible.ts";

export interface TriblePattern {
  e?: Id;
  a?: Id;
  v?: Uint8Array;
}

export class TribleSet {
  private buf: Uint8Array;
  private count = 0;
  /** Records [0, sortedCount) are canonical; the rest were appended since. */
  private sortedCount = 0;

  constructor(capacity = 8) {
    this.buf = new Uint8Array(capacity * TRIBLE_LEN);
  }

  static fromTribles(tribles: Iterable<Uint8Array>): TribleSet {
    const set = new TribleSet();
    for (const t of tribles) set.addTrible(t);
    return set;
  }

  /** Wraps bytes already known to be canonical (sorted, unique, valid) without checking. */
  static fromCanonicalBytes(bytes: Uint8Array): TribleSet {
    const set = new TribleSet(0);
    set.buf = bytes.slice();
    set.count = set.sortedCount = bytes.length / TRIBLE_LEN;
    return set;
  }

  add(e: Id, a: Id, v: Uint8Array): this {
    return this.push(trible(e, a, v));
  }

  addTrible(t: Uint8Array): this {
    if (t.length !== TRIBLE_LEN) throw new Error(`a trible is ${TRIBLE_LEN} bytes, got ${t.length}`);
    return this.push(trible(t.subarray(0, 16), t.subarray(16, 32), t.subarray(32, 64)));
  }

  private push(t: Uint8Array): this {
    if ((this.count + 1) * TRIBLE_LEN > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, 8 * TRIBLE_LEN));
      grown.set(this.buf.subarray(0, this.count * TRIBLE_LEN));
      this.buf = grown;
    }
    this.buf.set(t, this.count * TRIBLE_LEN);
    this.count++;
    return this;
  }

  get size(): number {
    this.normalize();
    return this.count;
  }

  /** The canonical bytes (a view; do not mutate). */
  bytes(): Uint8Array {
    this.normalize();
    return this.buf.subarray(0, this.count * TRIBLE_LEN);
  }

  has(t: Uint8Array): boolean {
    this.normalize();
    return t.length === TRIBLE_LEN && this.search(t, 0) >= 0;
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    const bytes = this.bytes();
    for (let at = 0; at < bytes.length; at += TRIBLE_LEN) yield bytes.subarray(at, at + TRIBLE_LEN);
  }

  union(other: TribleSet): TribleSet {
    return mergeSets(this, other, "union");
  }

  unionInPlace(other: TribleSet): this {
    const merged = mergeSets(this, other, "union");
    this.buf = merged.buf;
    this.count = this.sortedCount = merged.count;
    return this;
  }

  difference(other: TribleSet): TribleSet {
    return mergeSets(this, other, "difference");
  }

  intersection(other: TribleSet): TribleSet {
    return mergeSets(this, other, "intersection");
  }

  equals(other: TribleSet): boolean {
    return bytesEqual(this.bytes(), other.bytes());
  }

  /** Tribles matching every given part of the pattern. */
  find(pattern: TriblePattern): Uint8Array[] {
    const out: Uint8Array[] = [];
    const bytes = this.bytes();
    let start = 0;
    let end = bytes.length;
    if (pattern.e) {
      // Entity is the sort prefix: binary-search its range.
      start = this.lowerBound(pattern.e, 0) * TRIBLE_LEN;
      const next = successor(pattern.e);
      end = next ? this.lowerBound(next, 0) * TRIBLE_LEN : bytes.length;
    }
    for (let at = start; at < end; at += TRIBLE_LEN) {
      const t = bytes.subarray(at, at + TRIBLE_LEN);
      if (pattern.a && !bytesEqual(t.subarray(16, 32), pattern.a)) continue;
      if (pattern.v && !bytesEqual(t.subarray(32, 64), pattern.v)) continue;
      out.push(t);
    }
    return out;
  }

  /** Values of (e, a, ·). */
  values(e: Id, a: Id): Uint8Array[] {
    return this.find({ e, a }).map((t) => t.subarray(32, 64));
  }

  /**
   * The single value of (e, a), a copy, or undefined if there is none; several values are an error
   * (`context` prefixes its message, e.g. "bad branch metadata").
   */
  optionalValue(e: Id, a: Id, what: string, context: string): Uint8Array | undefined {
    const vs = this.values(e, a);
    if (vs.length > 1) throw new Error(`${context}: ${vs.length} ${what} values`);
    return vs[0]?.slice();
  }

  /** Distinct entities that have attribute `a` (with value `v`, if given). */
  entitiesWith(a: Id, v?: Uint8Array): Id[] {
    const out: Id[] = [];
    for (const t of this.find(v ? { a, v } : { a })) {
      const e = t.subarray(0, 16);
      const last = out[out.length - 1];
      if (!last || !bytesEqual(last, e)) out.push(e);
    }
    return out;
  }

  /** Sorts and dedupes appended records. */
  private normalize(): void {
    if (this.sortedCount === this.count) return;
    const n = this.count;
    const buf = this.buf;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((x, y) => compareRecords(buf, x * TRIBLE_LEN, buf, y * TRIBLE_LEN));
    const out = new Uint8Array(Math.max(n, 8) * TRIBLE_LEN);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const src = order[i]! * TRIBLE_LEN;
      if (kept > 0 && compareRecords(out, (kept - 1) * TRIBLE_LEN, buf, src) === 0) continue;
      out.set(buf.subarray(src, src + TRIBLE_LEN), kept * TRIBLE_LEN);
      kept++;
    }
    this.buf = out;
    this.count = this.sortedCount = kept;
  }

  /** Index of the first record >= key (compared over key's length). */
  private lowerBound(key: Uint8Array, offset: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePrefix(this.buf, mid * TRIBLE_LEN, key, offset) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private search(t: Uint8Array, offset: number): number {
    const i = this.lowerBound(t, offset);
    return i < this.count && comparePrefix(this.buf, i * TRIBLE_LEN, t, offset) === 0 ? i : -1;
  }
}

function compareRecords(a: Uint8Array, ao: number, b: Uint8Array, bo: number): number {
  for (let i = 0; i < TRIBLE_LEN; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Compares the record at `ao` with `key[offset..]` over the key's remaining length. */
function comparePrefix(a: Uint8Array, ao: number, key: Uint8Array, offset: number): number {
  const n = Math.min(TRIBLE_LEN, key.length - offset);
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - key[offset + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** The next byte string of the same length, or null if `bytes` is all 0xff. */
function successor(bytes: Uint8Array): Uint8Array | null {
  const next = bytes.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] !== 0xff) {
      next[i]!++;
      return next;
    }
    next[i] = 0;
  }
  return null;
}

/** Linear merge of two canonical sets. */
function mergeSets(x: TribleSet, y: TribleSet, op: "union" | "difference" | "intersection"): TribleSet {
  const a = x.bytes();
  const b = y.bytes();
  const out = new Uint8Array(op === "union" ? a.length + b.length : a.length);
  let i = 0;
  let j = 0;
  let n = 0;
  const emit = (src: Uint8Array, at: number) => {
    out.set(src.subarray(at, at + TRIBLE_LEN), n);
    n += TRIBLE_LEN;
  };
  while (i < a.length && j < b.length) {
    const c = compareRecords(a, i, b, j);
    if (c < 0) {
      if (op !== "intersection") emit(a, i);
      i += TRIBLE_LEN;
    } else if (c > 0) {
      if (op === "union") emit(b, j);
      j += TRIBLE_LEN;
    } else {
      if (op !== "difference") emit(a, i);
      i += TRIBLE_LEN;
      j += TRIBLE_LEN;
    }
  }
  if (op !== "intersection") for (; i < a.length; i += TRIBLE_LEN) emit(a, i);
  if (op === "union") for (; j < b.length; j += TRIBLE_LEN) emit(b, j);
  return TribleSet.fromCanonicalBytes(out.subarray(0, n));
}
