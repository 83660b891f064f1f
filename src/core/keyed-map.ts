/**
 * A map from 32-byte keys (public keys, hashes) to values, for tables whose keys someone else
 * chooses, with an optional capacity. Buckets are found by the keyed hash (keyed-hash.ts), so
 * nobody outside the process can pick keys that share a bucket; a JS Map of hex strings relies on
 * the engine's string hash, which is not keyed, and costs a 64-character string per key. Past
 * `capacity` entries the oldest one is forgotten, so strangers that each bring a new key cannot
 * grow the table without end.
 */
import { bytesEqual } from "./bytes.ts";
import { keyedHash32 } from "./keyed-hash.ts";

interface Entry<V> {
  key: Uint8Array;
  value: V;
}

export class KeyedMap<V> {
  /** Entries by keyed hash; a bucket holds more than one only on a (rare, unpredictable) collision. */
  private readonly buckets = new Map<number, Entry<V>[]>();
  /** Every entry, oldest first (a Set of objects: ordered by insertion, hashed by identity). */
  private readonly order = new Set<Entry<V>>();

  constructor(readonly capacity = Number.POSITIVE_INFINITY) {}

  get size(): number {
    return this.order.size;
  }

  private find(key: Uint8Array): { bucket: Entry<V>[] | undefined; at: number; hash: number } {
    if (key.length !== 32) throw new RangeError(`KeyedMap keys are 32 bytes, got ${key.length}`);
    const hash = keyedHash32(key, 0);
    const bucket = this.buckets.get(hash);
    const at = bucket ? bucket.findIndex((e) => bytesEqual(e.key, key)) : -1;
    return { bucket, at, hash };
  }

  get(key: Uint8Array): V | undefined {
    const { bucket, at } = this.find(key);
    return at >= 0 ? bucket![at]!.value : undefined;
  }

  has(key: Uint8Array): boolean {
    return this.find(key).at >= 0;
  }

  /** Sets the value (a new key counts as the newest entry; an existing one keeps its place). */
  set(key: Uint8Array, value: V): void {
    const { bucket, at, hash } = this.find(key);
    if (at >= 0) {
      bucket![at]!.value = value;
      return;
    }
    const entry = { key: key.slice(), value };
    if (bucket) bucket.push(entry);
    else this.buckets.set(hash, [entry]);
    this.order.add(entry);
    if (this.order.size > this.capacity) this.remove(this.order.values().next().value!);
  }

  delete(key: Uint8Array): boolean {
    const { bucket, at } = this.find(key);
    if (at < 0) return false;
    this.remove(bucket![at]!);
    return true;
  }

  clear(): void {
    this.buckets.clear();
    this.order.clear();
  }

  *entries(): IterableIterator<[Uint8Array, V]> {
    for (const e of this.order) yield [e.key, e.value];
  }

  private remove(entry: Entry<V>): void {
    this.order.delete(entry);
    const hash = keyedHash32(entry.key, 0);
    const bucket = this.buckets.get(hash)!;
    const left = bucket.filter((e) => e !== entry);
    if (left.length) this.buckets.set(hash, left);
    else this.buckets.delete(hash);
  }
}
