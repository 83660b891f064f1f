/**
 * A deterministic test DAG, built the same way in the server process and in the test, so the test
 * knows every hash the server holds without asking it.
 *
 * `fanout ** depth` leaves of varied sizes (one empty, one of 300 KiB, the rest 0–3 KiB; or with
 * `leafSize`, all but the first and last of that size), then
 * inner levels of `fanout` child references each. Every inner node also references leaf 0 (so the
 * graph is a DAG, not a tree) and ends with a partial chunk that is no reference at all.
 */
import { HashIndex } from "../../src/core/hash-index.ts";
import type { BlobReader, BlobStorePut, Hash } from "../../src/core/store.ts";

export interface DagShape {
  depth: number;
  fanout: number;
  salt: number;
  /**
   * Size of every leaf but the first (empty) and the last (16 bytes, the first blob of a fetch's
   * post-order), instead of varied sizes.
   */
  leafSize?: number;
}

export interface Dag {
  root: Hash;
  /** Every blob, leaves first. */
  hashes: Hash[];
  leaves: Hash[];
}

export function leafBytes(shape: DagShape, i: number): Uint8Array {
  if (i === 0) return new Uint8Array(0);
  const last = i === shape.fanout ** shape.depth - 1;
  const size = shape.leafSize !== undefined ? (last ? 0 : shape.leafSize) : i === 1 ? 300 * 1024 : (i * 997) % 3000;
  const bytes = new Uint8Array(size + 16);
  new TextEncoder().encodeInto(`leaf ${shape.salt} ${i}`.padEnd(16), bytes);
  for (let k = 16; k < bytes.length; k++) bytes[k] = (k * 31 + i * 7 + shape.salt) & 0xff;
  return bytes;
}

export function buildDag(store: BlobStorePut, shape: DagShape): Dag {
  const leafCount = shape.fanout ** shape.depth;
  const leaves = store.putMany(Array.from({ length: leafCount }, (_, i) => leafBytes(shape, i)));
  const hashes = [...leaves];
  let level = leaves;
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += shape.fanout) {
      const refs = [...level.slice(i, i + shape.fanout), leaves[0]!];
      const node = new Uint8Array(refs.length * 32 + 5);
      refs.forEach((h, j) => {
        node.set(h, j * 32);
      });
      node.set([shape.salt & 0xff, 1, 2, 3, 4], refs.length * 32);
      next.push(store.put(node));
    }
    hashes.push(...next);
    level = next;
  }
  return { root: level[0]!, hashes, leaves };
}

/** Every blob reachable from `root` (itself included) by the children rule: present 32-byte chunks. */
export function closureOf(reader: BlobReader, root: Hash): Hash[] {
  const seen = new HashIndex(64);
  const out: Hash[] = [];
  const stack = [root];
  while (stack.length) {
    const h = stack.pop()!;
    if (!reader.has(h) || !seen.insert(h).added) continue;
    out.push(h);
    const bytes = reader.get(h)!;
    for (let at = 0; at + 32 <= bytes.length; at += 32) stack.push(bytes.slice(at, at + 32));
  }
  return out;
}

/** The first reference of an inner node. */
export function firstChild(store: { reader(): BlobReader }, parent: Hash): Hash {
  return store.reader().get(parent)!.slice(0, 32);
}
