/**
 * Intrinsic (content-derived) entity ids (FORMATS §5.2): the id of an entity is the last 16 bytes
 * of BLAKE3 over its sorted, deduplicated (attribute ‖ value) pairs. Commits, branch metadata and
 * capabilities use this, which is what makes identical content produce identical blobs.
 */
import { hash } from "./blake3.ts";
import { compareBytes } from "./bytes.ts";
import { assertId, type Id } from "./id.ts";
import { TribleSet } from "./tribleset.ts";

export type Pair = readonly [attr: Id, value: Uint8Array];

function canonicalPairs(pairs: ReadonlyArray<Pair>): Pair[] {
  for (const [a, v] of pairs) {
    assertId(a, "entity attribute");
    if (v.length !== 32) throw new Error(`entity value must be 32 bytes, got ${v.length}`);
  }
  const sorted = [...pairs].sort((x, y) => compareBytes(x[0], y[0]) || compareBytes(x[1], y[1]));
  return sorted.filter((p, i) => i === 0 || compareBytes(p[0], sorted[i - 1]![0]) !== 0 || compareBytes(p[1], sorted[i - 1]![1]) !== 0);
}

export function intrinsicId(pairs: ReadonlyArray<Pair>): Id {
  const canonical = canonicalPairs(pairs);
  const buf = new Uint8Array(canonical.length * 48);
  canonical.forEach(([a, v], i) => {
    buf.set(a, i * 48);
    buf.set(v, i * 48 + 16);
  });
  return hash(buf).slice(16, 32);
}

/** The entity's id and its tribles. */
export function intrinsicEntity(pairs: ReadonlyArray<Pair>): { id: Id; set: TribleSet } {
  const id = intrinsicId(pairs);
  const set = new TribleSet();
  for (const [a, v] of pairs) set.add(id, a, v);
  return { id, set };
}
