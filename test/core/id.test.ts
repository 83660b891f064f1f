import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex, isZero, toHex } from "../../src/core/bytes.ts";
import { fucId, genId, ID_LEN, idFromHex, idToHex, idToHexUpper, isNilId, NIL_ID, ufoId } from "../../src/core/id.ts";
import { trible } from "../../src/core/trible.ts";

const nonNil = fc.uint8Array({ minLength: 16, maxLength: 16 }).filter((b) => !isZero(b));

describe("ids (FORMATS §1)", () => {
  test("formatting vector from id.rs: lower and upper hex", () => {
    const id = fromHex("7D06820D69947D76E7177E5DEA4EA773");
    expect(idToHex(id)).toBe("7d06820d69947d76e7177e5dea4ea773");
    expect(idToHexUpper(id)).toBe("7D06820D69947D76E7177E5DEA4EA773");
  }, 1_000);

  test("idFromHex accepts either case and round-trips", () => {
    fc.assert(
      fc.property(nonNil, (id) => {
        expect(idFromHex(idToHex(id))).toEqual(id);
        expect(idFromHex(idToHexUpper(id))).toEqual(id);
      }),
    );
  }, 5_000);

  test("idFromHex rejects nil, wrong length and non-hex with a clear message", () => {
    expect(() => idFromHex("0".repeat(32))).toThrow("nil id");
    expect(() => idFromHex("abc")).toThrow("expected 32 hex characters, got 3");
    expect(() => idFromHex("7d06820d69947d76e7177e5dea4ea77")).toThrow("got 31");
    expect(() => idFromHex("7d06820d69947d76e7177e5dea4ea7733")).toThrow("got 33");
    expect(() => idFromHex("zz06820d69947d76e7177e5dea4ea773")).toThrow("bad character at position 0");
    expect(() => idFromHex("x".repeat(500))).toThrow("…");
  }, 1_000);

  test("genId: 16 random non-nil bytes, all distinct", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = genId();
      expect(id.length).toBe(ID_LEN);
      expect(isNilId(id)).toBe(false);
      seen.add(idToHex(id));
    }
    expect(seen.size).toBe(1000);
  }, 2_000);

  test("ufoId: bytes 0..4 are unix ms mod 2^32, big-endian", () => {
    expect(toHex(ufoId(0x01020304).subarray(0, 4))).toBe("01020304");
    expect(toHex(ufoId(2 ** 32 + 5).subarray(0, 4))).toBe("00000005");
    expect(toHex(ufoId(1_700_000_000_123).subarray(0, 4))).toBe((1_700_000_000_123 % 2 ** 32).toString(16).padStart(8, "0"));
    const before = Date.now() % 2 ** 32;
    const now = new DataView(ufoId().buffer).getUint32(0);
    const after = Date.now() % 2 ** 32;
    // Tolerates the 49.7-day wrap falling between the two clock reads.
    expect(before <= after ? now >= before && now <= after : true).toBe(true);
    // The random tail differs between two ids of the same millisecond.
    expect(toHex(ufoId(42).subarray(4))).not.toBe(toHex(ufoId(42).subarray(4)));
  }, 1_000);

  test("fucId: salt XOR counter, so consecutive ids differ only in low bytes", () => {
    const ids = Array.from({ length: 300 }, () => fucId());
    expect(new Set(ids.map(idToHex)).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) {
      const x = ids[i - 1]!.map((b, k) => b ^ ids[i]![k]!);
      // counter n XOR counter n+1 is below 2^64 for any counter a process will reach.
      expect(isZero(x.subarray(0, 8))).toBe(true);
      expect(isZero(x)).toBe(false);
    }
  }, 1_000);

  test("NIL_ID is 16 zero bytes and never a valid trible part", () => {
    expect(NIL_ID).toEqual(new Uint8Array(16));
    expect(isNilId(NIL_ID)).toBe(true);
    const id = genId();
    expect(() => trible(NIL_ID, id, new Uint8Array(32))).toThrow("trible entity must not be the nil id");
    expect(() => trible(id, NIL_ID, new Uint8Array(32))).toThrow("trible attribute must not be the nil id");
    expect(() => trible(id.subarray(1), id, new Uint8Array(32))).toThrow("trible entity must be 16 bytes, got 15");
    expect(() => trible(id, id, new Uint8Array(31))).toThrow("trible value must be 32 bytes, got 31");
    const t = trible(id, id, new Uint8Array(32).fill(9));
    expect(t.length).toBe(64);
    expect(t.subarray(0, 16)).toEqual(id);
    expect(t.subarray(32)).toEqual(new Uint8Array(32).fill(9));
  }, 1_000);
});
