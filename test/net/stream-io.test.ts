/** The protocol's big-endian length fields: encoded as DataView would, decoded with their bounds. */
import { expect, test } from "bun:test";
import { decodeLength, decodeU32, MISSING_LEN, ProtocolError, u32, u64 } from "../../src/net/stream-io.ts";

test("u32 and u64 write big-endian fields, exactly as DataView does, and read back", () => {
  for (const n of [0, 1, 255, 256, 0xdeadbeef, 2 ** 32 - 1]) {
    const want = new Uint8Array(4);
    new DataView(want.buffer).setUint32(0, n);
    expect(u32(n)).toEqual(want);
    expect(decodeU32(u32(n))).toBe(n);
  }
  for (const n of [0, 1, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345, 2 ** 53 - 1]) {
    const want = new Uint8Array(8);
    new DataView(want.buffer).setBigUint64(0, BigInt(n));
    expect(u64(n)).toEqual(want);
    expect(decodeLength(u64(n), 2 ** 53)).toBe(n);
  }
});

test("a length past its bound is a protocol error; the all-ones length means missing", () => {
  expect(() => decodeLength(u64(2 ** 32 + 1), 2 ** 32)).toThrow(ProtocolError);
  expect(decodeLength(MISSING_LEN, 2 ** 32)).toBe(-1);
});
