import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type ArchiveError, decodeSimpleArchive, encodeSimpleArchive } from "../../src/core/archive.ts";
import { intrinsicId } from "../../src/core/entity.ts";
import { decodeLongString, encodeLongString } from "../../src/core/longstring.ts";
import { booleanFromValue, booleanValue, durationFromValue, durationValue, genIdFromValue, genIdValue, intervalFromValue, intervalValue, shortStringFromValue, shortStringValue, signatureFromValues, signatureRValue, signatureSValue } from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";

const nonNil = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).filter((b) => b.some((x) => x !== 0));
// Small alphabets make duplicates and shared prefixes common, which is where ordering bugs hide.
const smallId = fc.integer({ min: 1, max: 6 }).map((x) => new Uint8Array(16).fill(x));
const trible = fc.tuple(fc.oneof(smallId, nonNil(16)), fc.oneof(smallId, nonNil(16)), fc.oneof(fc.constant(new Uint8Array(32)), fc.uint8Array({ minLength: 32, maxLength: 32 })));
const tribles = fc.array(trible, { maxLength: 40 });
const setOf = (ts: [Uint8Array, Uint8Array, Uint8Array][]) => {
  const s = new TribleSet();
  for (const [e, a, v] of ts) s.add(e, a, v);
  return s;
};
const i128 = fc.bigInt({ min: -(1n << 127n), max: (1n << 127n) - 1n });

describe("value encodings round-trip", () => {
  test("GenId, ShortString, intervals, durations, booleans, signatures, LongString", () => {
    fc.assert(fc.property(nonNil(16), (id) => expect(genIdFromValue(genIdValue(id))).toEqual(id)));
    fc.assert(fc.property(fc.string({ maxLength: 8 }).filter((s) => !s.includes("\0")), (s) => expect(shortStringFromValue(shortStringValue(s))).toBe(s)));
    fc.assert(
      fc.property(i128, i128, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(intervalFromValue(intervalValue(lo, hi))).toEqual({ lower: lo, upper: hi });
      }),
    );
    // Byte order of the encoding is numeric order.
    fc.assert(
      fc.property(i128, i128, (a, b) => {
        const x = intervalValue(a, a);
        const y = intervalValue(b, b);
        const cmp = Buffer.compare(Buffer.from(x), Buffer.from(y));
        expect(Math.sign(cmp)).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
    fc.assert(fc.property(i128, (d) => expect(durationFromValue(durationValue(d))).toBe(d)));
    fc.assert(fc.property(fc.boolean(), (b) => expect(booleanFromValue(booleanValue(b))).toBe(b)));
    fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (sig) => expect(signatureFromValues(signatureRValue(sig), signatureSValue(sig))).toEqual(sig)));
    fc.assert(fc.property(fc.string(), (s) => expect(decodeLongString(encodeLongString(s))).toBe(s)));
    expect(() => decodeLongString(new Uint8Array([0xff, 0xfe]))).toThrow("not valid UTF-8");
    expect(() => shortStringValue("x".repeat(33))).toThrow("too long");
    expect(() => intervalValue(2n, 1n)).toThrow();
  }, 10_000);
});

describe("SimpleArchive", () => {
  test("canonical bytes do not depend on insertion order or duplicates, and decode back", () => {
    fc.assert(
      fc.property(tribles, fc.func(fc.integer()), (ts, order) => {
        const a = setOf(ts);
        const shuffled = [...ts, ...ts.slice(0, 3)].sort((x, y) => order(x) - order(y));
        const b = setOf(shuffled);
        const bytes = encodeSimpleArchive(a);
        expect(encodeSimpleArchive(b)).toEqual(bytes);
        expect(decodeSimpleArchive(bytes).equals(a)).toBe(true);
        expect(bytes.length).toBe(64 * a.size);
      }),
    );
  }, 10_000);

  test("non-canonical or malformed bytes are rejected with the right kind", () => {
    const kind = (bytes: Uint8Array) => {
      try {
        decodeSimpleArchive(bytes);
        return "ok";
      } catch (err) {
        return (err as ArchiveError).kind;
      }
    };
    const a = setOf([
      [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2), new Uint8Array(32)],
      [new Uint8Array(16).fill(3), new Uint8Array(16).fill(2), new Uint8Array(32)],
    ]);
    const bytes = encodeSimpleArchive(a);
    expect(kind(bytes.subarray(0, 100))).toBe("BadArchive");
    expect(kind(new Uint8Array([...bytes.subarray(0, 64), ...bytes.subarray(0, 64)]))).toBe("BadCanonicalizationRedundancy");
    expect(kind(new Uint8Array([...bytes.subarray(64), ...bytes.subarray(0, 64)]))).toBe("BadCanonicalizationOrdering");
    expect(kind(new Uint8Array(64))).toBe("BadTrible");
    expect(kind(new Uint8Array(0))).toBe("ok");
  }, 1_000);
});

describe("set algebra", () => {
  test("union, intersection and difference obey the laws", () => {
    fc.assert(
      fc.property(tribles, tribles, tribles, (x, y, z) => {
        const [a, b, c] = [setOf(x), setOf(y), setOf(z)];
        expect(a.union(b).equals(b.union(a))).toBe(true);
        expect(a.union(b).union(c).equals(a.union(b.union(c)))).toBe(true);
        expect(a.union(a).equals(a)).toBe(true);
        expect(a.intersection(b).equals(b.intersection(a))).toBe(true);
        expect(a.difference(b).union(a.intersection(b)).equals(a)).toBe(true);
        expect(a.difference(b).intersection(b).size).toBe(0);
        expect(a.union(b).size).toBe(a.size + b.size - a.intersection(b).size);
        for (const t of a) expect(a.union(b).has(t)).toBe(true);
        const inPlace = setOf(x).unionInPlace(b);
        expect(inPlace.equals(a.union(b))).toBe(true);
      }),
    );
  }, 10_000);

  test("intrinsic ids ignore pair order and duplicates", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(nonNil(16), fc.uint8Array({ minLength: 32, maxLength: 32 })), { minLength: 1, maxLength: 6 }), (pairs) => {
        const reversed = [...pairs].reverse();
        expect(intrinsicId([...reversed, pairs[0]!])).toEqual(intrinsicId(pairs));
      }),
    );
  }, 5_000);
});
