/**
 * A set of tribles, kept as one flat buffer of 64-byte records in canonical order (sorted by all 64
 * bytes, no duplicates). Canonical order is exactly the SimpleArchive byte order, so encoding is a
 * copy.
 *
 * Adds append to the end of the buffer. The first read after some adds sorts only the appended
 * records and merges them into the sorted part, so interleaving adds and reads stays cheap.
 * Record views handed out (iteration, find) stay valid: a sorted record is never overwritten, a
 * reorganisation always writes a new buffer.
 */
import { bytesEqual } from "./bytes.ts";
import { assertId, type Id } from "./id.ts";
import { TRIBLE_LEN, VALUE_LEN } from "./trible.ts";

/** How many appended (unsorted) records `has` scans linearly before it sorts and merges them. */
const SCAN_PENDING_LIMIT = 256;

/** What `find` matches: tribles with these parts (an absent part matches any). */
export interface TriblePattern {
  e?: Id;
  a?: Id;
  v?: Uint8Array;
}

/** A set of facts (tribles), kept in canonical order; encodes to a SimpleArchive by copying. */
export class TribleSet {
  private buf: Uint8Array;
  private count = 0;
  /** Records [0, sortedCount) are canonical; the rest were appended since. */
  private sortedCount = 0;

  /** An empty set with room for `capacity` tribles before it grows. */
  constructor(capacity = 8) {
    this.buf = new Uint8Array(Math.max(capacity, 1) * TRIBLE_LEN);
  }

  /** A set of the given 64-byte tribles (duplicates dropped). */
  static fromTribles(tribles: Iterable<Uint8Array>): TribleSet {
    const set = new TribleSet();
    for (const t of tribles) set.addTrible(t);
    return set;
  }

  /** Copies bytes already known to be canonical (sorted, unique, non-nil E and A) without checking them. */
  static fromCanonicalBytes(bytes: Uint8Array): TribleSet {
    const set = new TribleSet(0);
    set.buf = bytes.slice();
    set.count = set.sortedCount = bytes.length / TRIBLE_LEN;
    return set;
  }

  /** Adds the fact (entity `e`, attribute `a`, 32-byte value `v`); returns this set. */
  add(e: Id, a: Id, v: Uint8Array): this {
    assertId(e, "trible entity");
    assertId(a, "trible attribute");
    if (v.length !== VALUE_LEN) throw new Error(`trible value must be ${VALUE_LEN} bytes, got ${v.length}`);
    const at = this.reserve();
    this.buf.set(e, at);
    this.buf.set(a, at + 16);
    this.buf.set(v, at + 32);
    return this;
  }

  /** Adds one 64-byte trible; returns this set. */
  addTrible(t: Uint8Array): this {
    if (t.length !== TRIBLE_LEN) throw new Error(`a trible is ${TRIBLE_LEN} bytes, got ${t.length}`);
    return this.add(t.subarray(0, 16), t.subarray(16, 32), t.subarray(32, 64));
  }

  /** Makes room for one more record and returns its byte offset. */
  private reserve(): number {
    const at = this.count * TRIBLE_LEN;
    if (at + TRIBLE_LEN > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, 8 * TRIBLE_LEN));
      grown.set(this.buf.subarray(0, at));
      this.buf = grown;
    }
    this.count++;
    return at;
  }

  /** Number of tribles. */
  get size(): number {
    this.normalize();
    return this.count;
  }

  /** The canonical bytes (a view; do not mutate). Identical to the SimpleArchive encoding. */
  bytes(): Uint8Array {
    this.normalize();
    return this.buf.subarray(0, this.count * TRIBLE_LEN);
  }

  /** Whether the set holds this 64-byte trible. */
  has(t: Uint8Array): boolean {
    if (t.length !== TRIBLE_LEN) return false;
    // While few records are pending, scan them rather than re-merging the whole set: keeps
    // "if (!set.has(t)) set.add(t)" loops on large sets from re-merging on every call.
    if (this.count - this.sortedCount > SCAN_PENDING_LIMIT) this.normalize();
    const i = lowerBound(this.buf, 0, this.sortedCount, t);
    if (i < this.sortedCount && comparePrefix(this.buf, i * TRIBLE_LEN, t) === 0) return true;
    for (let j = this.sortedCount; j < this.count; j++) if (comparePrefix(this.buf, j * TRIBLE_LEN, t) === 0) return true;
    return false;
  }

  /** Every trible in canonical order (64-byte views; do not mutate). */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    const bytes = this.bytes();
    for (let at = 0; at < bytes.length; at += TRIBLE_LEN) yield bytes.subarray(at, at + TRIBLE_LEN);
  }

  /** A new set of the tribles in either set. */
  union(other: TribleSet): TribleSet {
    return new TribleSet(0).adopt(merge(this.bytes(), other.bytes(), "union"));
  }

  /** Adds every trible of `other` to this set. */
  unionInPlace(other: TribleSet): this {
    if (other.size === 0) return this;
    return this.adopt(merge(this.bytes(), other.bytes(), "union"));
  }

  /** A new set of the tribles in this set and not in `other`. */
  difference(other: TribleSet): TribleSet {
    return new TribleSet(0).adopt(merge(this.bytes(), other.bytes(), "difference"));
  }

  /** A new set of the tribles in both sets. */
  intersection(other: TribleSet): TribleSet {
    return new TribleSet(0).adopt(merge(this.bytes(), other.bytes(), "intersection"));
  }

  /** Takes over a merge result as this set's (fully canonical) contents. */
  private adopt(merged: Merged): this {
    this.buf = merged.buf;
    this.count = this.sortedCount = merged.count;
    return this;
  }

  /** Whether both sets hold the same tribles. */
  equals(other: TribleSet): boolean {
    return bytesEqual(this.bytes(), other.bytes());
  }

  /** Tribles matching every given part of the pattern, in canonical order (views; do not mutate). */
  find(pattern: TriblePattern): Uint8Array[] {
    const bytes = this.bytes();
    const { e, a, v } = pattern;
    let start = 0;
    let end = this.count;
    if (e) {
      // Entity is the sort prefix: binary-search its range instead of scanning.
      start = lowerBound(bytes, 0, end, e);
      end = upperBound(bytes, start, end, e);
    }
    const out: Uint8Array[] = [];
    for (let i = start; i < end; i++) {
      const at = i * TRIBLE_LEN;
      if (a && !equalAt(bytes, at + 16, a)) continue;
      if (v && !equalAt(bytes, at + 32, v)) continue;
      out.push(bytes.subarray(at, at + TRIBLE_LEN));
    }
    return out;
  }

  /** Values of (e, a, ·), in ascending order (views; do not mutate). */
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

  /** Distinct entities that have attribute `a` (with value `v`, if given), in ascending order (views). */
  entitiesWith(a: Id, v?: Uint8Array): Id[] {
    const out: Id[] = [];
    const bytes = this.bytes();
    let last = -1;
    for (let i = 0; i < this.count; i++) {
      const at = i * TRIBLE_LEN;
      if (!equalAt(bytes, at + 16, a)) continue;
      if (v && !equalAt(bytes, at + 32, v)) continue;
      // Records are sorted by entity first, so repeats of an entity are adjacent.
      if (last >= 0 && compareRange(bytes, last, bytes, at, 16) === 0) continue;
      out.push(bytes.subarray(at, at + 16));
      last = at;
    }
    return out;
  }

  /** Distinct entities of the set, in ascending order (views). */
  entities(): Id[] {
    const out: Id[] = [];
    const bytes = this.bytes();
    for (let i = 0; i < this.count; ) {
      const at = i * TRIBLE_LEN;
      const e = bytes.subarray(at, at + 16);
      out.push(e);
      i = upperBound(bytes, i, this.count, e);
    }
    return out;
  }

  /** Sorts the appended records and merges them into the canonical part. */
  private normalize(): void {
    if (this.sortedCount === this.count) return;
    const sortedEnd = this.sortedCount * TRIBLE_LEN;
    const tail = sortUnique(this.buf.subarray(sortedEnd, this.count * TRIBLE_LEN));
    this.adopt(merge(this.buf.subarray(0, sortedEnd), tail, "union"));
  }
}

/** Compares `len` bytes of `x` at `xo` with `y` at `yo`, unsigned. */
function compareRange(x: Uint8Array, xo: number, y: Uint8Array, yo: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = x[xo + i]! - y[yo + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Compares the record at `at` with `key` over the key's length (a key shorter than 64 bytes is a prefix). */
function comparePrefix(bytes: Uint8Array, at: number, key: Uint8Array): number {
  return compareRange(bytes, at, key, 0, key.length);
}

function equalAt(bytes: Uint8Array, at: number, part: Uint8Array): boolean {
  return compareRange(bytes, at, part, 0, part.length) === 0;
}

/** First record index in [lo, hi) whose prefix is >= key. */
function lowerBound(bytes: Uint8Array, lo: number, hi: number, key: Uint8Array): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePrefix(bytes, mid * TRIBLE_LEN, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First record index in [lo, hi) whose prefix is > key. */
function upperBound(bytes: Uint8Array, lo: number, hi: number, key: Uint8Array): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePrefix(bytes, mid * TRIBLE_LEN, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted, deduplicated copy of unordered records. */
function sortUnique(records: Uint8Array): Uint8Array {
  const n = records.length / TRIBLE_LEN;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  radixSort(records, order, new Uint32Array(n), 0, n, 0);
  const out = new Uint8Array(n * TRIBLE_LEN);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const src = order[i]! * TRIBLE_LEN;
    if (kept > 0 && compareRange(out, (kept - 1) * TRIBLE_LEN, records, src, TRIBLE_LEN) === 0) continue;
    out.set(records.subarray(src, src + TRIBLE_LEN), kept * TRIBLE_LEN);
    kept++;
  }
  return kept === n ? out : out.subarray(0, kept * TRIBLE_LEN);
}

/** Below this many records a bucket is finished by insertion sort. */
const INSERTION_SORT_MAX = 16;

/**
 * Sorts the record indices order[lo, hi) by the records' bytes from `depth` on (the bytes before
 * `depth` are equal within the range): most-significant-byte radix sort. It beats a comparison
 * sort several times over because a JS comparator call costs more than a byte count, and shared
 * prefixes (one entity's many tribles) cost one counting pass per shared byte.
 */
function radixSort(records: Uint8Array, order: Uint32Array, scratch: Uint32Array, lo: number, hi: number, depth: number): void {
  if (hi - lo <= INSERTION_SORT_MAX) {
    insertionSort(records, order, lo, hi, depth);
    return;
  }
  const counts = new Uint32Array(257);
  for (; depth < TRIBLE_LEN; depth++) {
    counts.fill(0);
    for (let i = lo; i < hi; i++) counts[records[order[i]! * TRIBLE_LEN + depth]! + 1]!++;
    // Every record has the same byte here: nothing to move, look at the next byte.
    if (counts[records[order[lo]! * TRIBLE_LEN + depth]! + 1] === hi - lo) continue;
    for (let b = 1; b < 257; b++) counts[b]! += counts[b - 1]!;
    const starts = counts.slice();
    for (let i = lo; i < hi; i++) {
      const r = order[i]!;
      scratch[lo + counts[records[r * TRIBLE_LEN + depth]!]!++] = r;
    }
    order.set(scratch.subarray(lo, hi), lo);
    for (let b = 0; b < 256; b++) {
      const from = lo + starts[b]!;
      const to = lo + starts[b + 1]!;
      if (to - from > 1) radixSort(records, order, scratch, from, to, depth + 1);
    }
    return;
  }
}

function insertionSort(records: Uint8Array, order: Uint32Array, lo: number, hi: number, depth: number): void {
  const len = TRIBLE_LEN - depth;
  for (let i = lo + 1; i < hi; i++) {
    const r = order[i]!;
    let j = i - 1;
    while (j >= lo && compareRange(records, order[j]! * TRIBLE_LEN + depth, records, r * TRIBLE_LEN + depth, len) > 0) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = r;
  }
}

type MergeOp = "union" | "difference" | "intersection";

/** A canonical run of `count` records at the start of `buf` (which may have room for more). */
interface Merged {
  buf: Uint8Array;
  count: number;
}

/**
 * Merges two canonical record runs into a new canonical run. Runs of records from one side that
 * fall between two records of the other are found by galloping (exponential then binary search)
 * and copied in one go, so merging a few records into a large set costs O(k log n), not O(n)
 * comparisons.
 */
function merge(a: Uint8Array, b: Uint8Array, op: MergeOp): Merged {
  const na = a.length / TRIBLE_LEN;
  const nb = b.length / TRIBLE_LEN;
  const most = op === "union" ? na + nb : na;
  // Spare room (an eighth) so the next few adds append without copying the set again.
  const out = new Uint8Array((most + (most >>> 3) + 8) * TRIBLE_LEN);
  let n = 0;
  const copy = (src: Uint8Array, from: number, to: number) => {
    out.set(src.subarray(from * TRIBLE_LEN, to * TRIBLE_LEN), n);
    n += (to - from) * TRIBLE_LEN;
  };
  let i = 0;
  let j = 0;
  while (i < na && j < nb) {
    const c = compareRange(a, i * TRIBLE_LEN, b, j * TRIBLE_LEN, TRIBLE_LEN);
    if (c < 0) {
      const k = gallop(a, i + 1, na, b.subarray(j * TRIBLE_LEN, (j + 1) * TRIBLE_LEN));
      if (op !== "intersection") copy(a, i, k);
      i = k;
    } else if (c > 0) {
      const k = gallop(b, j + 1, nb, a.subarray(i * TRIBLE_LEN, (i + 1) * TRIBLE_LEN));
      if (op === "union") copy(b, j, k);
      j = k;
    } else {
      if (op !== "difference") copy(a, i, i + 1);
      i++;
      j++;
    }
  }
  if (op !== "intersection") copy(a, i, na);
  if (op === "union") copy(b, j, nb);
  return { buf: out, count: n / TRIBLE_LEN };
}

/** First index in [from, hi) whose record is >= key, searching outward from `from` (cheap for short runs). */
function gallop(bytes: Uint8Array, from: number, hi: number, key: Uint8Array): number {
  let step = 1;
  let lo = from;
  let probe = from;
  while (probe < hi && comparePrefix(bytes, probe * TRIBLE_LEN, key) < 0) {
    lo = probe + 1;
    probe = from + step;
    step *= 2;
  }
  return lowerBound(bytes, lo, Math.min(probe, hi), key);
}
