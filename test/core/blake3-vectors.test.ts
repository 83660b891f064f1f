import { expect, test } from "bun:test";
import { Blake3Hasher, hash, hashMany } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import vectors from "../fixtures/blake3-vectors.json";

// The official BLAKE3 test vectors: input i is bytes (i mod 251); "hash" is extended output, of
// which the first 32 bytes are the default hash. Keyed and derive-key modes are checked in blake3-kernel.test.ts.
const input = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

test("hash, hashMany and the incremental hasher match every official vector (0…102400 bytes)", () => {
  const inputs = vectors.cases.map((c) => input(c.input_len));
  const expected = vectors.cases.map((c) => c.hash.slice(0, 64));
  expect(inputs.map((b) => toHex(hash(b)))).toEqual(expected);
  expect(hashMany(inputs).map(toHex)).toEqual(expected);
  // Pieces of odd sizes cross block (64) and chunk (1024) boundaries at awkward places; each
  // input is fed twice with different piece patterns, interleaved, so hashers must not share state.
  const pieceSizes = [1, 7, 63, 64, 65, 1021, 1023, 1024, 1025, 3000];
  const feed = (hasher: Blake3Hasher, bytes: Uint8Array, pattern: number, at: number) => {
    const size = pieceSizes[(pattern + at) % pieceSizes.length]!;
    hasher.update(bytes.subarray(at, Math.min(bytes.length, at + size)));
    return at + size;
  };
  for (const [i, bytes] of inputs.entries()) {
    const [x, y] = [new Blake3Hasher(), new Blake3Hasher()];
    let [atX, atY] = [0, 0];
    while (atX < bytes.length || atY < bytes.length) {
      if (atX < bytes.length) atX = feed(x, bytes, 0, atX);
      if (atY < bytes.length) atY = feed(y, bytes, 5, atY);
    }
    expect(toHex(x.digest())).toBe(expected[i]!);
    expect(toHex(y.update(new Uint8Array(0)).digest())).toBe(expected[i]!);
  }
  expect(vectors.cases.length).toBeGreaterThan(30);
}, 20_000);
