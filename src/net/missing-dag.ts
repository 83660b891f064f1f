/**
 * The missing part of a head's DAG as a fetch discovers it: hash → entry (a keyed HashIndex, as
 * its hashes are only a peer's claims), and each entry's children as a run of one shared edge
 * array (typed arrays, 4 bytes per reference: no array per blob). Entry 0 is the head.
 *
 * Every list remembers which peer gave it (peers are numbered 1…255 by the caller), and every
 * peer's share is counted, so a peer dropped mid-walk can be un-believed: `forget` clears the
 * lists it gave (the blobs only it named become unreachable from the head) for the caller to ask
 * the others, and budgets can be charged to the peer that made us spend them.
 */
import { HashIndex } from "../core/hash-index.ts";
import type { Hash } from "../core/store.ts";

export class MissingDag {
  readonly nodes = new HashIndex(1024);
  /** Per entry: where its children start in `edges`, and how many (-1: not listed yet). */
  private firstChild = new Int32Array(1024);
  private childCount = new Int32Array(1024).fill(-1);
  private edges = new Int32Array(4096);
  private edgeCount = 0;
  /** Per entry: the peer whose reply gave its list (0: none yet). */
  private listedBy = new Uint8Array(1024);
  /** Per entry: its depth below the head where it was first named (the head is 0). */
  private depths = new Int32Array(1024);
  /** Per peer: blobs it named first, and references it listed. */
  private readonly named = new Float64Array(256);
  private readonly listed = new Float64Array(256);

  constructor(head: Hash) {
    this.nodes.insert(head);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** Child references recorded so far. */
  get references(): number {
    return this.edgeCount;
  }

  /** The hash of an entry (a view into the index: do not mutate). */
  hashOf(entry: number): Uint8Array {
    return this.nodes.keyAt(entry);
  }

  /** Depth below the head at which `entry` was first named. */
  depthOf(entry: number): number {
    return this.depths[entry]!;
  }

  /** Blobs peer `by` named first so far. */
  namedBy(by: number): number {
    return this.named[by]!;
  }

  /** References peer `by` listed so far. */
  listedFrom(by: number): number {
    return this.listed[by]!;
  }

  /**
   * Starts the child list of `parent` as peer `by` gave it (replacing any earlier one); its
   * children then follow with `addChild`.
   */
  beginChildren(parent: number, by: number): void {
    this.firstChild[parent] = this.edgeCount;
    this.childCount[parent] = 0;
    this.listedBy[parent] = by;
  }

  /** Adds `child[at..at+32]` to the list begun last, indexing it if new; returns its entry when new, else -1. */
  addChild(parent: number, child: Uint8Array, at = 0): number {
    const { entry, added } = this.nodes.insert(child, at);
    if (entry >= this.childCount.length) this.growEntries();
    if (this.edgeCount === this.edges.length) this.edges = grown(this.edges, this.edges.length * 2);
    this.edges[this.edgeCount++] = entry;
    this.childCount[parent]!++;
    const by = this.listedBy[parent]!;
    this.listed[by]!++;
    if (!added) return -1;
    this.named[by]!++;
    this.depths[entry] = this.depths[parent]! + 1;
    return entry;
  }

  /**
   * Clears every list peer `by` gave and returns those parents, to be asked again of others. A
   * parent nobody lists again stays childless (the download then finds it missing, if it is
   * still reachable at all).
   */
  forget(by: number): number[] {
    const parents: number[] = [];
    for (let e = 0; e < this.nodes.size; e++) {
      if (this.listedBy[e] !== by) continue;
      this.childCount[e] = -1;
      this.listedBy[e] = 0;
      parents.push(e);
    }
    return parents;
  }

  /** Entries children first (every entry after all of its children), reachable from the head. */
  postOrder(): Int32Array {
    const n = this.nodes.size;
    const out = new Int32Array(n);
    let written = 0;
    const state = new Uint8Array(n); // 0 new, 1 open, 2 done
    // Each entry is pushed at most once per reference to it, plus the head.
    let stack = new Int32Array(Math.min(this.edgeCount + 1, 1 << 16));
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const e = stack[top - 1]!;
      if (state[e] === 0) {
        state[e] = 1;
        const count = this.childCount[e]!;
        const start = this.firstChild[e]!;
        for (let k = 0; k < count; k++) {
          const c = this.edges[start + k]!;
          if (state[c] !== 0) continue;
          if (top === stack.length) stack = grown(stack, stack.length * 2);
          stack[top++] = c;
        }
      } else {
        top--;
        if (state[e] === 1) {
          state[e] = 2;
          out[written++] = e;
        }
      }
    }
    return out.subarray(0, written);
  }

  /**
   * The hashes of `entries` (a post-order), copied into one buffer: a million hashes as one
   * 32 MB array rather than a view object each (copied without views too: a million of them were
   * 70 MB of garbage at once), and the DAG itself can be let go.
   */
  hashesOf(entries: Int32Array): PackedHashes {
    const out = new Uint8Array(entries.length * 32);
    for (let i = 0; i < entries.length; i++) this.nodes.copyKey(entries[i]!, out, i * 32);
    return new PackedHashes(out);
  }

  private growEntries(): void {
    const size = this.childCount.length * 2;
    this.firstChild = grown(this.firstChild, size);
    const counts = new Int32Array(size).fill(-1);
    counts.set(this.childCount);
    this.childCount = counts;
    const listedBy = new Uint8Array(size);
    listedBy.set(this.listedBy);
    this.listedBy = listedBy;
    this.depths = grown(this.depths, size);
  }
}

function grown(old: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(size);
  out.set(old);
  return out;
}

/** Hashes packed 32 bytes apiece in one buffer; read as views (a HashSequence for the download). */
export class PackedHashes {
  constructor(private readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length / 32;
  }

  at(i: number): Hash {
    return this.bytes.subarray(i * 32, i * 32 + 32);
  }

  slice(from: number, to: number): Hash[] {
    return Array.from({ length: Math.max(0, to - from) }, (_, k) => this.at(from + k));
  }
}
