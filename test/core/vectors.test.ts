import { describe, expect, test } from "bun:test";
import { decodeSimpleArchive, encodeSimpleArchive, LONG_STRING_SCHEMA, SIMPLE_ARCHIVE_SCHEMA, SUCCINCT_ARCHIVE_SCHEMA } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { intrinsicEntity, intrinsicId } from "../../src/core/entity.ts";
import { idToHex } from "../../src/core/id.ts";
import { KIND_INLINE_ENCODING, METADATA_BLOB_ENCODING, METADATA_HASH_SCHEMA, METADATA_NAME, METADATA_TAG, METADATA_UPDATED_AT, METADATA_VALUE_ENCODING } from "../../src/core/metadata.ts";
import {
  GENID_SCHEMA,
  genIdValue,
  HANDLE_LONG_STRING_SCHEMA,
  HANDLE_SIMPLE_ARCHIVE_SCHEMA,
  HANDLE_SUCCINCT_ARCHIVE_SCHEMA,
  HASH_BLAKE3_SCHEMA,
  intervalValue,
  pointInterval,
  SHORT_STRING_SCHEMA,
  shortStringValue,
} from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";

const enc = new TextEncoder();
const T = 3_990_000_000_000_000_000n;

describe("spec vectors (FORMATS §5.2, §10.2)", () => {
  test("BLAKE3 of fixed strings", () => {
    expect(toHex(hash(new Uint8Array(0)))).toBe("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    expect(toHex(hash(enc.encode("title")))).toBe("d3450e2a7eb73c76e92136a9d687858d364d4533293c1c24d90ea6b1889c890f");
    expect(toHex(hash(enc.encode("main")))).toBe("e726318bbc3fd75ac8733a7e030cc35b6f44d7ee11a8a845413d4cbf0e06a729");
  }, 1_000);

  test("single-trible SimpleArchive", () => {
    const set = new TribleSet().add(fromHex("7D06820D69947D76E7177E5DEA4EA773"), fromHex("7830D7B3C2DCD44EB3FA68C93D06B973"), shortStringValue("Hello, World!"));
    const bytes = encodeSimpleArchive(set);
    expect(toHex(bytes)).toBe(
      "7d06820d69947d76e7177e5dea4ea7737830d7b3c2dcd44eb3fa68c93d06b97348656c6c6f2c20576f726c642100000000000000000000000000000000000000",
    );
    expect(toHex(hash(bytes))).toBe("b42d5ad5485296679f1f3982cad3053d34b14ea52187c9405654d3abe81275de");
    expect(decodeSimpleArchive(bytes).equals(set)).toBe(true);
  }, 1_000);

  test("schema ids of Handle<…> and a derived attribute", () => {
    const handleSchema = (blobEncoding: Uint8Array) =>
      intrinsicId([
        [METADATA_BLOB_ENCODING, genIdValue(blobEncoding)],
        [METADATA_HASH_SCHEMA, genIdValue(HASH_BLAKE3_SCHEMA)],
        [METADATA_TAG, genIdValue(KIND_INLINE_ENCODING)],
      ]);
    expect(idToHex(handleSchema(SIMPLE_ARCHIVE_SCHEMA))).toBe("ff4c729ba012c2bb5595690b6200026f");
    expect(idToHex(handleSchema(LONG_STRING_SCHEMA))).toBe("c7f6bedb2bb70dcd769ea439a43fb75b");
    expect(idToHex(handleSchema(SUCCINCT_ARCHIVE_SCHEMA))).toBe("bb8f108adbc91a273f0008243b57d0cc");
    // The exported constants are these derivations.
    expect(handleSchema(SIMPLE_ARCHIVE_SCHEMA)).toEqual(HANDLE_SIMPLE_ARCHIVE_SCHEMA);
    expect(handleSchema(LONG_STRING_SCHEMA)).toEqual(HANDLE_LONG_STRING_SCHEMA);
    expect(handleSchema(SUCCINCT_ARCHIVE_SCHEMA)).toEqual(HANDLE_SUCCINCT_ARCHIVE_SCHEMA);
    expect(toHex(GENID_SCHEMA)).toBe("b08ee1d45eb081e8c47618178afe0d81");
    const title = intrinsicId([
      [METADATA_NAME, hash(enc.encode("title"))],
      [METADATA_VALUE_ENCODING, genIdValue(SHORT_STRING_SCHEMA)],
    ]);
    expect(idToHex(title)).toBe("eee24a13d711a4a6ba9c8a571acccb67");
  }, 1_000);

  test("merge commit and unsigned branch metadata", () => {
    const parent = fromHex("317044B612C690000D798CA660ECFD2A");
    const merge = intrinsicEntity([
      [parent, new Uint8Array(32).fill(0x11)],
      [parent, new Uint8Array(32).fill(0x22)],
    ]);
    expect(idToHex(merge.id)).toBe("74e83f6f37475a876f307d335079d2ac");
    const mergeBlob = encodeSimpleArchive(merge.set);
    expect(mergeBlob.length).toBe(128);
    expect(toHex(hash(mergeBlob))).toBe("5cae364f1b8c9b6908fb5016f504f7270affa1e4ff1db4db3325db044660a55a");

    const branch = intrinsicEntity([
      [fromHex("8694CC73AF96A5E1C7635C677D1B928A"), genIdValue(fromHex("7D06820D69947D76E7177E5DEA4EA773"))],
      [METADATA_NAME, hash(enc.encode("main"))],
      [METADATA_UPDATED_AT, pointInterval(T)],
    ]);
    expect(idToHex(branch.id)).toBe("9395dc9a107775153f63c9bed655e9ca");
    const blob = encodeSimpleArchive(branch.set);
    expect(blob.length).toBe(192);
    expect(toHex(hash(blob))).toBe("d12dd5d096c6893b2d5af9a76b7f20cf9b7b031a83201349ce0b36ae865b45bd");
  }, 1_000);

  test("interval encodings", () => {
    expect(toHex(pointInterval(T))).toBe("8000000000000000375f53dc2dcf00008000000000000000375f53dc2dcf0000");
    expect(toHex(intervalValue(0n, 1_000_000_000n))).toBe("80000000000000000000000000000000" + "8000000000000000000000003b9aca00");
    expect(toHex(intervalValue(-1n, -1n)).slice(0, 32)).toBe("7fffffffffffffffffffffffffffffff");
  }, 1_000);
});
