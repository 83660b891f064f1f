import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ArchiveError, decodeSimpleArchive, encodeSimpleArchive } from "../../src/core/archive.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { intrinsicEntity, intrinsicId } from "../../src/core/entity.ts";
import { decodeLongString, encodeLongString } from "../../src/core/longstring.ts";
import {
  booleanFromValue,
  durationFromValue,
  durationValue,
  genIdFromValue,
  genIdValue,
  intervalFromValue,
  intervalValue,
  nowTaiNs,
  pointInterval,
  shortStringFromValue,
  shortStringValue,
  signatureFromValues,
  signatureRValue,
  taiNsFromUnixMs,
  unixMsFromTaiNs,
} from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";

const enc = new TextEncoder();
const value = (...bytes: number[]) => {
  const v = new Uint8Array(32);
  v.set(bytes);
  return v;
};

describe("GenId values", () => {
  test("id sits in the last 16 bytes; zero prefix and non-nil id are enforced", () => {
    const id = fromHex("7D06820D69947D76E7177E5DEA4EA773");
    expect(toHex(genIdValue(id))).toBe(`${"00".repeat(16)}7d06820d69947d76e7177e5dea4ea773`);
    expect(() => genIdFromValue(new Uint8Array(32))).toThrow("nil id");
    expect(() => genIdFromValue(value(1))).toThrow("first 16 bytes must be zero");
    expect(() => genIdFromValue(new Uint8Array(31))).toThrow("must be 32 bytes, got 31");
    expect(() => genIdValue(new Uint8Array(15))).toThrow("16-byte id");
  }, 1_000);
});

describe("ShortString values", () => {
  test("exactly 32 bytes has no terminator; multi-byte UTF-8 counts bytes", () => {
    const s32 = "a".repeat(32);
    expect(shortStringFromValue(shortStringValue(s32))).toBe(s32);
    expect(shortStringFromValue(shortStringValue(""))).toBe("");
    expect(shortStringFromValue(shortStringValue("é".repeat(16)))).toBe("é".repeat(16));
    expect(() => shortStringValue("é".repeat(17))).toThrow("34 bytes (max 32)");
    expect(toHex(shortStringValue("Hello, World!"))).toBe(`48656c6c6f2c20576f726c6421${"00".repeat(19)}`);
  }, 1_000);

  test("decoding rejects bytes after the terminator, bad UTF-8, wrong length; encoding rejects NUL", () => {
    expect(() => shortStringFromValue(value(0x61, 0, 0x62))).toThrow("non-zero byte after the terminator");
    expect(() => shortStringFromValue(value(0xc3))).toThrow("not UTF-8");
    expect(() => shortStringFromValue(value(0xed, 0xa0, 0x80))).toThrow("not UTF-8"); // a UTF-16 surrogate
    expect(() => shortStringFromValue(new Uint8Array(33))).toThrow("must be 32 bytes");
    expect(() => shortStringValue("a\0b")).toThrow("NUL");
    expect(() => shortStringValue("a\ud800")).toThrow("lone surrogate");
  }, 1_000);

  test("any string of at most 32 UTF-8 bytes without NUL round-trips", () => {
    const short = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => !s.includes("\0") && enc.encode(s).length <= 32);
    fc.assert(fc.property(short, (s) => expect(shortStringFromValue(shortStringValue(s))).toBe(s)));
  }, 5_000);
});

describe("time values (FORMATS §3.1)", () => {
  test("TAI offset: unix epoch is 2_208_988_837 s after 1900 TAI", () => {
    expect(taiNsFromUnixMs(0)).toBe(2_208_988_837_000_000_000n);
    expect(unixMsFromTaiNs(2_208_988_837_000_000_000n)).toBe(0);
    expect(unixMsFromTaiNs(2_208_988_836_999_999_999n)).toBe(-1);
    fc.assert(fc.property(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), (ms) => expect(unixMsFromTaiNs(taiNsFromUnixMs(ms))).toBe(ms)));
    const now = Date.now();
    const tai = nowTaiNs();
    expect(Math.abs(unixMsFromTaiNs(tai) - now)).toBeLessThan(1_000);
  }, 5_000);

  test("intervals: bounds validated both ways; points are collapsed intervals", () => {
    expect(() => intervalValue(5n, 4n)).toThrow("lower bound after upper bound");
    const inverted = new Uint8Array([...pointInterval(5n).subarray(0, 16), ...pointInterval(4n).subarray(16)]);
    expect(() => intervalFromValue(inverted)).toThrow("inverted");
    expect(() => intervalValue(1n << 127n, 1n << 127n)).toThrow("out of i128 range");
    expect(intervalFromValue(pointInterval(-7n))).toEqual({ lower: -7n, upper: -7n });
    expect(toHex(intervalValue(-(1n << 127n), (1n << 127n) - 1n))).toBe(`${"00".repeat(16)}${"ff".repeat(16)}`);
  }, 1_000);

  test("durations: offset-BE i128 then 16 reserved zero bytes", () => {
    expect(toHex(durationValue(1_000_000_000n))).toBe(`8000000000000000000000003b9aca00${"00".repeat(16)}`);
    const bad = durationValue(1n);
    bad[31] = 1;
    expect(() => durationFromValue(bad)).toThrow("reserved bytes must be zero");
  }, 1_000);
});

describe("other values", () => {
  test("booleans accept only all-00 and all-FF", () => {
    expect(booleanFromValue(new Uint8Array(32))).toBe(false);
    expect(booleanFromValue(new Uint8Array(32).fill(0xff))).toBe(true);
    expect(() => booleanFromValue(value(1))).toThrow("all 00 or all FF");
  }, 1_000);

  test("signature components split a 64-byte signature and refuse other lengths", () => {
    expect(() => signatureRValue(new Uint8Array(63))).toThrow("64 bytes, got 63");
    expect(() => signatureFromValues(new Uint8Array(32), new Uint8Array(31))).toThrow("signature S value must be 32 bytes");
  }, 1_000);

  test("LongString is plain UTF-8, empty allowed, invalid UTF-8 refused", () => {
    expect(encodeLongString("")).toEqual(new Uint8Array(0));
    expect(toHex(encodeLongString("main"))).toBe("6d61696e");
    expect(decodeLongString(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe("\ufeffa"); // a BOM is kept, not stripped
    expect(() => decodeLongString(new Uint8Array([0x61, 0x80]))).toThrow("LongString blob is not valid UTF-8");
    expect(() => encodeLongString("\udc00x")).toThrow("lone surrogate");
  }, 1_000);
});

describe("SimpleArchive errors", () => {
  const t = (e: number, a: number, v = 0) => new Uint8Array([...new Uint8Array(16).fill(e), ...new Uint8Array(16).fill(a), ...value(v)]);
  const decodeError = (bytes: Uint8Array): ArchiveError => {
    try {
      decodeSimpleArchive(bytes);
    } catch (err) {
      if (err instanceof ArchiveError) return err;
      throw err;
    }
    throw new Error("decoded without error");
  };

  test("errors name the offending trible's index", () => {
    const ok = [t(1, 1), t(1, 2), t(2, 1)];
    expect(decodeSimpleArchive(new Uint8Array(ok.flatMap((x) => [...x]))).size).toBe(3);
    const dup = decodeError(new Uint8Array([...t(1, 1), ...t(1, 2), ...t(1, 2)]));
    expect([dup.kind, dup.index]).toEqual(["BadCanonicalizationRedundancy", 2]);
    expect(dup.message).toContain("trible 2");
    const misordered = decodeError(new Uint8Array([...t(1, 1), ...t(2, 1), ...t(1, 2, 5)]));
    expect([misordered.kind, misordered.index]).toEqual(["BadCanonicalizationOrdering", 2]);
    const nilA = decodeError(new Uint8Array([...t(1, 1), ...t(1, 0)]));
    expect([nilA.kind, nilA.index]).toEqual(["BadTrible", 1]);
    const nilE = decodeError(new Uint8Array(t(0, 1)));
    expect([nilE.kind, nilE.index]).toEqual(["BadTrible", 0]);
    const short = decodeError(new Uint8Array(65));
    expect([short.kind, short.index, short.name]).toEqual(["BadArchive", undefined, "ArchiveError"]);
    expect(short.message).toContain("65");
  }, 1_000);

  test("values differing only in the last byte are ordered by it", () => {
    expect(() => decodeSimpleArchive(new Uint8Array([...t(1, 1, 0), ...t(1, 1, 1)]))).not.toThrow();
    const a = new Uint8Array([...t(1, 1)]);
    const b = a.slice();
    b[63] = 1;
    expect(decodeError(new Uint8Array([...b, ...a])).kind).toBe("BadCanonicalizationOrdering");
  }, 1_000);

  test("any single-byte change to a canonical archive either still decodes canonically or is refused", () => {
    const set = new TribleSet();
    for (let i = 1; i <= 6; i++) set.add(new Uint8Array(16).fill(i), new Uint8Array(16).fill(7 - i), value(i));
    const bytes = encodeSimpleArchive(set);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const changed = bytes.slice();
        changed[at] = byte;
        try {
          const decoded = decodeSimpleArchive(changed);
          expect(encodeSimpleArchive(decoded)).toEqual(changed);
        } catch (err) {
          expect(err).toBeInstanceOf(ArchiveError);
        }
      }),
    );
  }, 5_000);

  test("decoding copies: later changes to the input do not reach the set", () => {
    const bytes = new Uint8Array(t(1, 1));
    const set = decodeSimpleArchive(bytes);
    bytes[0] = 9;
    expect(toHex(set.bytes().subarray(0, 1))).toBe("01");
  }, 1_000);
});

describe("intrinsic entities (FORMATS §5.2)", () => {
  test("the id hashes sorted, deduplicated attr‖value pairs and keeps the last 16 digest bytes", () => {
    const [a1, a2] = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)];
    const pairs = [
      [a2, value(1)],
      [a1, value(2)],
      [a1, value(1)],
      [a2, value(1)],
    ] as const;
    const { id, set } = intrinsicEntity(pairs);
    expect(id).toEqual(intrinsicId([...pairs].reverse()));
    expect(set.size).toBe(3);
    expect(set.entities()).toEqual([id]);
    expect(() => intrinsicId([[a1, new Uint8Array(31)]])).toThrow("entity value must be 32 bytes, got 31");
    expect(() => intrinsicId([[new Uint8Array(16), value(1)]])).toThrow("entity attribute must not be the nil id");
  }, 1_000);
});
