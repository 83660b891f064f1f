/** The server's DAG walks: a blob's children (CHILDREN, CHILDREN_MANY) and a root's missing closure (CLOSURE). */
import { HashIndex } from "../../core/hash-index.ts";
import type { BlobReader, Hash } from "../../core/store.ts";
import type { WorkMeter } from "../budget.ts";
import { LIMITS } from "../wire.ts";
import type { Scope } from "./policy.ts";

/** Reused probe for `childrenOf`: most chunks are not hashes, so no view is made until one hits. */
const probe = new Uint8Array(32);
const probeWords = new Uint32Array(probe.buffer);

/**
 * Children of a blob: every 32-byte chunk at offsets 0, 32, 64, … that is the hash of a present,
 * in-scope blob (the reference's rule). Null when the parent is absent or out of scope.
 */
export function childrenOf(snapshot: BlobReader, scope: Scope, parent: Hash, dedupe: boolean): Uint8Array[] | null {
  if (!snapshot.has(parent) || !scope.inScope(parent, snapshot)) return null;
  const scan = new ChildScan(snapshot, scope, snapshot.get(parent)!, dedupe);
  scan.run(0, scan.bytes.length);
  return scan.out;
}

/**
 * `childrenOf` for a server answering a peer: the parent is scanned in slices of the meter's
 * size, so a large blob never holds the event loop, and the scan stops when its stream is gone.
 * A parent scanned within the current slice is answered at once (not a promise): a level of
 * small blobs is thousands of them, and an async call each was most of a sender's garbage.
 */
export function childrenMetered(snapshot: BlobReader, scope: Scope, parent: Hash, dedupe: boolean, meter: WorkMeter): Uint8Array[] | null | Promise<Uint8Array[] | null> {
  if (!snapshot.has(parent) || !scope.inScope(parent, snapshot)) return null;
  const scan = new ChildScan(snapshot, scope, snapshot.get(parent)!, dedupe);
  const length = scan.bytes.length;
  const turn = meter.spend(length); // reading it (and hashing it, the first time) costs as much as a scan
  if (turn || length > meter.sliceBytes) return scanInSlices(scan, meter, turn);
  scan.run(0, length);
  const after = meter.spend(length);
  return after ? after.then(() => scan.out) : scan.out;
}

async function scanInSlices(scan: ChildScan, meter: WorkMeter, turn: Promise<void> | undefined): Promise<Uint8Array[]> {
  await turn;
  const length = scan.bytes.length;
  for (let at = 0; at < length; at += meter.sliceBytes) {
    const end = Math.min(length, at + meter.sliceBytes);
    scan.run(at, end);
    await meter.spend(end - at);
  }
  return scan.out;
}

/** The children scan of one parent, resumable at any multiple of 32 bytes. */
class ChildScan {
  readonly out: Uint8Array[] = [];
  private seen: HashIndex | null = null;
  /** The parent as 32-bit words when it is 4-byte aligned (it usually is): chunks copy as eight words. */
  private readonly words: Uint32Array | null;

  constructor(
    private readonly snapshot: BlobReader,
    private readonly scope: Scope,
    readonly bytes: Uint8Array,
    private readonly dedupe: boolean,
  ) {
    this.words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
  }

  /** Scans the chunks starting in [from, to); `from` is a multiple of 32. */
  run(from: number, to: number): void {
    const { bytes, words, snapshot, scope, out } = this;
    for (let at = from; at < to && at + 32 <= bytes.length; at += 32) {
      if (words) for (let k = 0, w = at >>> 2; k < 8; k++) probeWords[k] = words[w + k]!;
      else probe.set(bytes.subarray(at, at + 32));
      if (!snapshot.has(probe)) continue;
      const chunk = bytes.subarray(at, at + 32);
      if (!scope.inScope(chunk, snapshot)) continue;
      if (this.dedupe && out.length > 0) {
        if (!this.seen) {
          this.seen = new HashIndex(16);
          for (const c of out) this.seen.insert(c);
        }
        if (!this.seen.insert(chunk).added) continue;
      }
      out.push(chunk);
    }
  }
}

/**
 * The closure of `root` as OP_CLOSURE sends it: present, in-scope blobs (children by `childrenOf`)
 * not under a `have` hash, each once, children before parents. Null when the root is absent or out
 * of scope, or when the closure holds more than `budget` bytes or LIMITS.maxClosureBlobs blobs (the
 * walk stops there, so its work is bounded by both).
 */
export function missingClosure(snapshot: BlobReader, scope: Scope, root: Hash, have: HashIndex, budget: number): Hash[] | null {
  if (have.find(root) >= 0) return [];
  const nodes = new HashIndex(64);
  nodes.insert(root);
  const children: number[][] = [];
  let bytes = 0;
  // Level by level, so each level's blobs are verified in one hashing batch (see CHILDREN_MANY).
  let frontier = [0];
  while (frontier.length) {
    snapshot.checkMany(frontier.map((e) => nodes.keyAt(e)));
    const next: number[] = [];
    for (const entry of frontier) {
      const parent = nodes.keyAt(entry);
      // Sized before its children are scanned: a blob over the budget is never read through.
      bytes += snapshot.sizeOf?.(parent) ?? snapshot.get(parent)?.length ?? 0;
      if (bytes > budget) return null;
      const kids = childrenOf(snapshot, scope, parent, true);
      if (!kids) return null; // only the root can be absent: children are present by definition
      const entries: number[] = [];
      for (const kid of kids) {
        if (have.find(kid) >= 0) continue;
        const { entry: kidEntry, added } = nodes.insert(kid);
        if (nodes.size > LIMITS.maxClosureBlobs) return null;
        entries.push(kidEntry);
        if (added) next.push(kidEntry);
      }
      children[entry] = entries;
    }
    frontier = next;
  }
  return postOrder(children, nodes.size).map((e) => nodes.keyAt(e));
}

/** Entries in an order where every entry comes after all its children (iterative DFS from entry 0). */
export function postOrder(children: number[][], count: number): number[] {
  const out: number[] = [];
  const state = new Uint8Array(count); // 0 new, 1 open, 2 done
  const stack: number[] = [0];
  while (stack.length) {
    const e = stack[stack.length - 1]!;
    if (state[e] === 0) {
      state[e] = 1;
      for (const c of children[e] ?? []) if (state[c] === 0) stack.push(c);
    } else {
      stack.pop();
      if (state[e] === 1) {
        state[e] = 2;
        out.push(e);
      }
    }
  }
  return out;
}
