import { expect, test } from "bun:test";
import { Blake3Hasher, hash, hashMany } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import vectors from "../fixtures/blake3-vectors.json";

// The official BLAKE3 test vectors: input i is bytes (i mod 251); "hash" is extended output, of
// which the first 32 bytes are the default hash. Keyed and derive-key modes are not exposed.
const input = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

test("hash, hashMany and the incremental hasher match every official vector (0…102400 bytes)", () => {
  const inputs = vectors.cases.map((c) => input(c.input_len));
  const expected = vectors.cases.map((c) => c.hash.slice(0, 64));
  expect(inputs.map((b) => toHex(hash(b)))).toEqual(expected);
  expect(hashMany(inputs).map(toHex)).toEqual(expected);
  for (const [i, bytes] of inputs.entries()) {
    const hasher = new Blake3Hasher();
    // Odd-sized pieces cross chunk (1024) and block (64) boundaries at awkward places.
    for (let at = 0; at < bytes.length; at += 1021) hasher.update(bytes.subarray(at, Math.min(bytes.length, at + 1021)));
    expect(toHex(hasher.digest())).toBe(expected[i]!);
  }
  expect(vectors.cases.length).toBeGreaterThan(30);
}, 20_000);
