/**
 * A keyed 32-bit hash of 32-byte keys, for hash tables whose keys someone else chooses (hashes a
 * peer claims, record headers of an untrusted pile file). Without a secret key an attacker can
 * pick keys that all start probing at the same slot and turn every lookup into a scan of one chain
 * (65,536 such keys cost a fetch a minute of CPU).
 *
 * The family is vector multiply-shift (Dietzfelbinger; Thorup, "High Speed Hashing for Integers
 * and Strings"): the key is read as sixteen 16-bit chunks x_i and
 *
 *     h = (a_0 + Σ a_{i+1} · x_i) mod 2^32
 *
 * with the a_i drawn at random once per process. It is universal in its HIGH bits, so tables take
 * their slot from the top (`h >>> shift`), never from the low bits. Any two distinct keys collide
 * in the top b bits with probability at most max(2 / 2^b, 2^-17), whatever the attacker knows
 * short of the coefficients, which never leave the process. A mixing function with a seed folded
 * in (multiply, xor-shift) is not enough: differences in a word's top bit pass through it the same
 * way for every seed, so keys can be built that collide whatever the seed is.
 */

/** a_0 … a_16: per-process random coefficients. */
const A = crypto.getRandomValues(new Int32Array(17));
const A0 = A[0]!;
const A1 = A[1]!;
const A2 = A[2]!;
const A3 = A[3]!;
const A4 = A[4]!;
const A5 = A[5]!;
const A6 = A[6]!;
const A7 = A[7]!;
const A8 = A[8]!;
const A9 = A[9]!;
const A10 = A[10]!;
const A11 = A[11]!;
const A12 = A[12]!;
const A13 = A[13]!;
const A14 = A[14]!;
const A15 = A[15]!;
const A16 = A[16]!;

/** The keyed hash of `b[at..at+32]`, as a signed 32-bit int; use its top bits (see above). */
export function keyedHash32(b: Uint8Array, at: number): number {
  // Unrolled, coefficients in constants: this runs once per table lookup.
  let h = A0;
  h = (h + Math.imul(A1, b[at]! | (b[at + 1]! << 8))) | 0;
  h = (h + Math.imul(A2, b[at + 2]! | (b[at + 3]! << 8))) | 0;
  h = (h + Math.imul(A3, b[at + 4]! | (b[at + 5]! << 8))) | 0;
  h = (h + Math.imul(A4, b[at + 6]! | (b[at + 7]! << 8))) | 0;
  h = (h + Math.imul(A5, b[at + 8]! | (b[at + 9]! << 8))) | 0;
  h = (h + Math.imul(A6, b[at + 10]! | (b[at + 11]! << 8))) | 0;
  h = (h + Math.imul(A7, b[at + 12]! | (b[at + 13]! << 8))) | 0;
  h = (h + Math.imul(A8, b[at + 14]! | (b[at + 15]! << 8))) | 0;
  h = (h + Math.imul(A9, b[at + 16]! | (b[at + 17]! << 8))) | 0;
  h = (h + Math.imul(A10, b[at + 18]! | (b[at + 19]! << 8))) | 0;
  h = (h + Math.imul(A11, b[at + 20]! | (b[at + 21]! << 8))) | 0;
  h = (h + Math.imul(A12, b[at + 22]! | (b[at + 23]! << 8))) | 0;
  h = (h + Math.imul(A13, b[at + 24]! | (b[at + 25]! << 8))) | 0;
  h = (h + Math.imul(A14, b[at + 26]! | (b[at + 27]! << 8))) | 0;
  h = (h + Math.imul(A15, b[at + 28]! | (b[at + 29]! << 8))) | 0;
  h = (h + Math.imul(A16, b[at + 30]! | (b[at + 31]! << 8))) | 0;
  return finalize(h);
}

/**
 * `keyedHash32` of the key held in `w[at..at+8]` (32-bit words of a little-endian machine): the
 * same value for the same 32 bytes, from eight loads instead of thirty-two. Scans of a pile's
 * record headers (4-byte aligned) use it.
 */
export function keyedHash32Words(w: Uint32Array, at: number): number {
  let h = A0;
  let x = w[at]!;
  h = (h + Math.imul(A1, x & 0xffff) + Math.imul(A2, x >>> 16)) | 0;
  x = w[at + 1]!;
  h = (h + Math.imul(A3, x & 0xffff) + Math.imul(A4, x >>> 16)) | 0;
  x = w[at + 2]!;
  h = (h + Math.imul(A5, x & 0xffff) + Math.imul(A6, x >>> 16)) | 0;
  x = w[at + 3]!;
  h = (h + Math.imul(A7, x & 0xffff) + Math.imul(A8, x >>> 16)) | 0;
  x = w[at + 4]!;
  h = (h + Math.imul(A9, x & 0xffff) + Math.imul(A10, x >>> 16)) | 0;
  x = w[at + 5]!;
  h = (h + Math.imul(A11, x & 0xffff) + Math.imul(A12, x >>> 16)) | 0;
  x = w[at + 6]!;
  h = (h + Math.imul(A13, x & 0xffff) + Math.imul(A14, x >>> 16)) | 0;
  x = w[at + 7]!;
  h = (h + Math.imul(A15, x & 0xffff) + Math.imul(A16, x >>> 16)) | 0;
  return finalize(h);
}

/**
 * A fixed bijective finalizer (murmur3's fmix32) on the keyed sum: two keys still collide only
 * when their sums do, but keys in an arithmetic run (sequential counters) no longer land in
 * evenly spaced slots, which for some coefficient draws gave linear probing chains 10× longer
 * than for random keys.
 */
function finalize(sum: number): number {
  let h = sum;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The shift that turns a keyed hash into a slot of a table of `2^bits` slots: `hash >>> shift`. */
export function slotShift(slotCount: number): number {
  return 32 - Math.log2(slotCount);
}
