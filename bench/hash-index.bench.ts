/**
 * Hash tables keyed by 32-byte hashes (core HashIndex, the pile's BlobIndex): insert and lookup
 * throughput on random keys, and on crafted keys that all share their first bytes (what a hostile
 * peer can send in one CHILDREN reply). With a keyed hash both cost about the same.
 */
import { HashIndex } from "../src/core/hash-index.ts";
import { type BenchRow, median, report } from "./lib.ts";

const N = 1 << 20;
/** Crafted keys: the first 8 bytes equal in every key (an unkeyed probe start puts them all in one chain). */
const CRAFTED = 1 << 16;

function randomKeys(n: number): Uint8Array {
  const out = new Uint8Array(n * 32);
  for (let at = 0; at < out.length; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(out.length, at + 65536)));
  return out;
}

function sharedPrefixKeys(n: number): Uint8Array {
  const out = randomKeys(n);
  for (let i = 0; i < n; i++) out.fill(0xab, i * 32, i * 32 + 8);
  return out;
}

function nsPer(n: number, fn: () => void): number {
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    fn();
    samples.push(((performance.now() - t0) * 1e6) / n);
  }
  return median(samples);
}

const rows: BenchRow[] = [];
const keys = randomKeys(N);
const absent = randomKeys(N);
let index = new HashIndex(1024);
rows.push({ name: `HashIndex insert ${N} random keys`, impl: "tribles", value: nsPer(N, () => {
  index = new HashIndex(1024);
  for (let i = 0; i < N; i++) index.insert(keys, i * 32);
}), unit: "ns/key", higherIsBetter: false });
let found = 0;
rows.push({ name: "HashIndex find, present", impl: "tribles", value: nsPer(N, () => {
  for (let i = 0; i < N; i++) if (index.find(keys, i * 32) >= 0) found++;
}), unit: "ns/key", higherIsBetter: false });
rows.push({ name: "HashIndex find, absent", impl: "tribles", value: nsPer(N, () => {
  for (let i = 0; i < N; i++) if (index.find(absent, i * 32) >= 0) found++;
}), unit: "ns/key", higherIsBetter: false });
const crafted = sharedPrefixKeys(CRAFTED);
const random = randomKeys(CRAFTED);
for (const [label, set] of [["random", random], ["crafted (shared 8-byte prefix)", crafted]] as const) {
  const t0 = performance.now();
  const idx = new HashIndex(16);
  for (let i = 0; i < CRAFTED; i++) idx.insert(set, i * 32);
  rows.push({ name: `HashIndex insert ${CRAFTED} keys`, impl: label, value: performance.now() - t0, unit: "ms", higherIsBetter: false, ...(label === "random" ? {} : { referenceImpl: "random" }) });
}
if (found < 0) console.log(found);
report("hash-index", rows);
