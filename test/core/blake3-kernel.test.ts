import { expect, test } from "bun:test";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { Blake3Hasher, BLAKE3_OUT_LEN, deriveKey, hash, hashMany, kernelMemoryBytes, keyedHash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import vectors from "../fixtures/blake3-vectors.json";

// Our WASM kernel against an independent implementation (@noble/hashes) on random inputs, batches
// and split points. Deterministic: a seeded generator picks lengths, contents and splits.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >> 2);
  for (let i = 0; i < words.length; i++) words[i] = rand() * 2 ** 32;
  for (let i = words.length * 4; i < n; i++) out[i] = rand() * 256;
  return out;
}

const reference = (bytes: Uint8Array) => toHex(nobleBlake3(bytes));

test("hash matches @noble/hashes on 40 random lengths up to 3 MiB", () => {
  const rand = rng(1);
  const pool = randomBytes(rand, 3 << 20);
  for (let i = 0; i < 40; i++) {
    // Half small (block and chunk edges), half large (deep trees, unaligned tails).
    const n = i % 2 === 0 ? Math.floor(rand() * 5000) : Math.floor(rand() * (3 << 20));
    const start = Math.floor(rand() * (pool.length - n));
    const bytes = pool.subarray(start, start + n);
    const got = hash(bytes);
    expect(got.length).toBe(BLAKE3_OUT_LEN);
    expect(toHex(got)).toBe(reference(bytes));
  }
  // Exact powers of two of chunks and their neighbours (tree shape edge cases).
  for (const chunks of [2, 3, 4, 5, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1024]) {
    for (const delta of [-1, 0, 1]) {
      const bytes = pool.subarray(0, chunks * 1024 + delta);
      expect(toHex(hash(bytes))).toBe(reference(bytes));
    }
  }
}, 10_000);

test("hashMany on mixed-size batches equals hash of each", () => {
  const rand = rng(2);
  const sizes = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 100_000];
  const batch: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) batch.push(randomBytes(rand, sizes[Math.floor(rand() * sizes.length)]!));
  for (const size of sizes) batch.push(randomBytes(rand, size));
  const many = hashMany(batch);
  expect(many.length).toBe(batch.length);
  for (const [i, bytes] of batch.entries()) {
    expect(many[i]!.length).toBe(32);
    expect(toHex(many[i]!)).toBe(toHex(hash(bytes)));
  }
  expect(toHex(many[batch.length - 1]!)).toBe(reference(batch[batch.length - 1]!));
  expect(hashMany([])).toEqual([]);
  // Outputs are independent arrays.
  many[0]!.fill(0);
  expect(toHex(many[1]!)).toBe(toHex(hash(batch[1]!)));
}, 10_000);

test("hashMany over more than one WASM memory slice (and inputs larger than a slice)", () => {
  const rand = rng(3);
  const mib = randomBytes(rand, 1 << 20);
  // 40 × 1 MiB (distinct views) is more than a 2 MiB slice: several kernel calls.
  const batch = Array.from({ length: 40 }, (_, i) => mib.subarray(i * 997, (1 << 20) - i));
  // Many small inputs among them, and one larger than a slice (streamed).
  for (let i = 0; i < 2000; i++) batch.push(mib.subarray(i, i + (i % 1100)));
  const huge = new Uint8Array(17 << 20);
  for (let i = 0; i < 17; i++) huge.set(mib, i << 20);
  batch.push(huge);
  const many = hashMany(batch);
  for (const [i, bytes] of batch.entries()) expect(toHex(many[i]!)).toBe(toHex(hash(bytes)));
  expect(toHex(many[5]!)).toBe(reference(batch[5]!));
  expect(toHex(many[batch.length - 1]!)).toBe(reference(huge));
  // However much went through, the kernel's memory (which never shrinks) holds one slice at most.
  expect(kernelMemoryBytes()).toBeLessThanOrEqual(3 << 20);
}, 15_000);

test("incremental hasher with random split points matches one-shot, with several hashers at once", () => {
  const rand = rng(4);
  const inputs = [0, 1, 1024, 1025, 5000, 65_537, 3 << 20].map((n) => randomBytes(rand, n));
  const hashers = inputs.map(() => new Blake3Hasher());
  const at = inputs.map(() => 0);
  // Interleave updates of all hashers with pieces from 0 bytes to ~200 KiB.
  for (let active = true; active; ) {
    active = false;
    for (const [i, bytes] of inputs.entries()) {
      if (at[i]! >= bytes.length) continue;
      active = true;
      const r = rand();
      const size = r < 0.3 ? Math.floor(rand() * 70) : r < 0.6 ? Math.floor(rand() * 3000) : Math.floor(rand() * 200_000);
      hashers[i]!.update(bytes.subarray(at[i]!, at[i]! + size));
      at[i]! += size;
    }
  }
  for (const [i, bytes] of inputs.entries()) {
    const expected = reference(bytes);
    expect(toHex(hashers[i]!.digest())).toBe(expected);
    // digest does not consume the state; more input continues the same stream.
    expect(toHex(hashers[i]!.digest())).toBe(expected);
  }
  const extended = new Blake3Hasher().update(inputs[4]!);
  extended.digest();
  extended.update(inputs[5]!);
  const both = new Uint8Array(inputs[4]!.length + inputs[5]!.length);
  both.set(inputs[4]!);
  both.set(inputs[5]!, inputs[4]!.length);
  expect(toHex(extended.digest())).toBe(reference(both));
}, 10_000);

test("keyed hash and derive key match the official vectors and @noble/hashes", () => {
  const key = new TextEncoder().encode(vectors.key);
  const input = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
  for (const c of vectors.cases) {
    const bytes = input(c.input_len);
    expect(toHex(keyedHash(key, bytes))).toBe(c.keyed_hash.slice(0, 64));
    expect(toHex(deriveKey(vectors.context_string, bytes))).toBe(c.derive_key.slice(0, 64));
  }
  // Modes do not leak into plain hashing, and long keyed inputs (streamed) agree with noble.
  const bytes = input(100_000);
  expect(toHex(hash(bytes))).toBe(reference(bytes));
  expect(toHex(keyedHash(key, bytes))).toBe(toHex(nobleBlake3(bytes, { key })));
  expect(() => keyedHash(key.subarray(1), bytes)).toThrow(RangeError);
}, 10_000);
