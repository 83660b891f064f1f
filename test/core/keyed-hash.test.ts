/**
 * Tables keyed by hashes a peer chooses: crafted keys must spread like random ones. Work is
 * counted (HashIndex.displacement: extra slots visited by lookups), not timed.
 */
import { expect, test } from "bun:test";
import { HashIndex } from "../../src/core/hash-index.ts";
import { LITTLE_ENDIAN } from "../../src/core/bytes.ts";
import { keyedHash32, keyedHash32Words } from "../../src/core/keyed-hash.ts";

const N = 8192;

function keysSharing(prefixBytes: number, n: number): Uint8Array {
  const keys = crypto.getRandomValues(new Uint8Array(n * 32));
  for (let i = 0; i < n; i++) {
    keys.fill(0xab, i * 32, i * 32 + prefixBytes);
    new DataView(keys.buffer).setUint32(i * 32 + 28, i, true); // distinct
  }
  return keys;
}

/**
 * Keys that differ only in bit 31 of some 32-bit words, each flip cancelled in the next word:
 * they collide under "seed, then multiply and xor-shift each word" for EVERY seed (the flip
 * passes through the multiply unchanged and the shift moves it to bit 16, which the next word
 * cancels). A keyed hash must still tell them apart.
 */
function seedIndependentFamily(): Uint8Array[] {
  const base = crypto.getRandomValues(new Uint8Array(32));
  const out: Uint8Array[] = [];
  for (let m = 0; m < 128; m++) {
    const key = base.slice();
    const view = new DataView(key.buffer);
    let carried = 0;
    for (let w = 0; w < 8; w++) {
      const flip = w < 7 && (m >> w) & 1 ? 0x80000000 : 0;
      view.setUint32(w * 4, (view.getUint32(w * 4, true) ^ carried ^ flip) >>> 0, true);
      carried = flip ? 0x80010000 : 0;
    }
    out.push(key);
  }
  return out;
}

function displacementOf(keys: Uint8Array, n: number): number {
  const index = new HashIndex(16);
  for (let i = 0; i < n; i++) expect(index.insert(keys, i * 32).added).toBe(true);
  for (let i = 0; i < n; i += 97) expect(index.find(keys, i * 32)).toBe(i);
  return index.displacement;
}

test("keys sharing 28 leading bytes cost a HashIndex no more probes than random keys", () => {
  const random = displacementOf(crypto.getRandomValues(new Uint8Array(N * 32)), N);
  const crafted = displacementOf(keysSharing(28, N), N);
  // Linear probing at load ≤ 1/2 averages under one extra slot per key; one chain would be ~N²/2.
  expect(random).toBeLessThan(4 * N);
  expect(crafted).toBeLessThan(4 * N);
}, 30_000);

test("keys built to collide under a seeded multiply/xor-shift mix spread under the keyed hash", () => {
  const family = seedIndependentFamily();
  const slots = new Set(family.map((k) => keyedHash32(k, 0) >>> 16)); // a table of 65,536 slots
  expect(slots.size).toBeGreaterThan(100); // ~128 expected; the mix gives 1
  const index = new HashIndex(16);
  for (const k of family) index.insert(k);
  expect(index.size).toBe(128);
  expect(index.displacement).toBeLessThan(4 * 128);
});

test("keyedHash32 reads every byte of the key and only those", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(96));
  const h = keyedHash32(bytes, 32);
  const copy = bytes.slice();
  copy[31] = copy[31]! ^ 1;
  copy[64] = copy[64]! ^ 1;
  expect(keyedHash32(copy, 32)).toBe(h);
  for (let i = 32; i < 64; i++) {
    const changed = bytes.slice();
    changed[i] = changed[i]! ^ 1;
    expect(keyedHash32(changed, 32)).not.toBe(h);
  }
});

test("the word-wise hash equals the byte-wise one for every key", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32 * 512));
  // Keys that differ from a random one in a single chunk's high byte: a word read that mixed up
  // the two halves of a word, or their order, would give another value.
  for (let k = 0; k < 16; k++) bytes[32 * (k + 1) + 2 * k + 1] = 0xff;
  const words = new Uint32Array(bytes.buffer);
  expect(LITTLE_ENDIAN).toBe(true);
  for (let at = 0; at + 32 <= bytes.length; at += 32) expect(keyedHash32Words(words, at >>> 2)).toBe(keyedHash32(bytes, at));
});
