/** Byte compatibility with FORMATS §6 and the §10.3 examples, both directions. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { toHex } from "../../src/core/bytes.ts";
import { Pile } from "../../src/pile/pile.ts";
import {
  BLOB_MAGIC_HEX,
  BRANCH_MAGIC_HEX,
  concat,
  handBlob,
  handBranch,
  hex,
  independentHash,
  TOMBSTONE_MAGIC_HEX,
  tempDir,
  utf8,
} from "./helpers.ts";

const EMPTY_HASH = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe("reading piles built by hand", () => {
  test("§10.3: empty blob, 'data' blob, branch head and tombstone", () => {
    const id = hex("0123456789abcdef0123456789abcdef");
    const id2 = hex("fedcba9876543210fedcba9876543210");
    const meta = independentHash(utf8("meta"));
    // The empty-blob record spelled out byte by byte from §10.3.
    const emptyRecord = hex(`${BLOB_MAGIC_HEX}d204000000000000${"00".repeat(8)}${EMPTY_HASH}`);
    const dataRecord = hex(`${BLOB_MAGIC_HEX}${"00".repeat(8)}0400000000000000${toHex(independentHash(utf8("data")))}64617461${"00".repeat(60)}`);
    expect(dataRecord.length).toBe(128);
    const file = concat([emptyRecord, dataRecord, handBranch(id, meta), handBranch(id2, meta), handBranch(id2, null)]);
    writeFileSync(tmp.path("hand.pile"), file);

    const pile = Pile.open(tmp.path("hand.pile"));
    const r = pile.reader();
    expect(r.len).toBe(2);
    expect(r.get(hex(EMPTY_HASH))).toEqual(new Uint8Array(0));
    expect(r.get(independentHash(utf8("data")))).toEqual(utf8("data"));
    expect([...r.list()].map(toHex)).toEqual([EMPTY_HASH, toHex(independentHash(utf8("data")))]);
    expect(pile.branches().map(toHex)).toEqual([toHex(id)]);
    expect(pile.head(id)).toEqual(meta);
    expect(pile.head(id2)).toBeNull();
    pile.close();
    expect(new Uint8Array(readFileSync(tmp.path("hand.pile")))).toEqual(new Uint8Array(file)); // reading never writes
  });

  test("the last branch record wins; a head may name a blob the pile lacks", () => {
    const id = new Uint8Array(16).fill(7);
    const heads = [1, 2, 3].map((n) => independentHash(utf8(`head ${n}`)));
    writeFileSync(tmp.path("b.pile"), concat(heads.map((h) => handBranch(id, h))));
    const pile = Pile.open(tmp.path("b.pile"));
    expect(pile.head(id)).toEqual(heads[2]!);
    expect(pile.reader().has(heads[2]!)).toBe(false);
    // A tombstone's reserved bytes are not checked; a later head revives the branch.
    const tombstone = handBranch(id, null);
    tombstone.fill(0x5a, 32, 64);
    appendFileSync(tmp.path("b.pile"), tombstone);
    expect(pile.head(id)).toBeNull();
    appendFileSync(tmp.path("b.pile"), handBranch(id, heads[0]!));
    expect(pile.head(id)).toEqual(heads[0]!);
    pile.close();
  });

  test("payload lengths around the 64-byte grid, and timestamps are not validated", () => {
    const payloads = [0, 1, 63, 64, 65, 127, 128, 1000].map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 255));
    const records = payloads.map((p, i) => handBlob(p, { ts: i % 2 ? 0xffff_ffff_ffff_ffffn : 0n }));
    for (const r of records) expect(r.length % 64).toBe(0);
    writeFileSync(tmp.path("g.pile"), concat(records));
    const pile = Pile.open(tmp.path("g.pile"));
    const r = pile.reader();
    for (const p of payloads) expect(r.get(independentHash(p))).toEqual(p);
    pile.close();
  });
});

describe("the writer's bytes", () => {
  test("§10.3: an empty blob is one 64-byte record", () => {
    const pile = Pile.open(tmp.path("e.pile"));
    const before = Date.now();
    expect(toHex(pile.put(new Uint8Array(0)))).toBe(EMPTY_HASH);
    pile.close();
    const b = readFileSync(tmp.path("e.pile"));
    expect(b.length).toBe(64);
    expect(toHex(b.subarray(0, 16))).toBe(BLOB_MAGIC_HEX);
    const ts = Number(b.readBigUInt64LE(16));
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(toHex(b.subarray(24, 32))).toBe("0000000000000000");
    expect(toHex(b.subarray(32, 64))).toBe(EMPTY_HASH);
  });

  test("blob, branch and tombstone records field by field", () => {
    const pile = Pile.open(tmp.path("w.pile"));
    const h = pile.put(utf8("data"));
    const id = new Uint8Array(16).fill(3);
    expect(pile.update(id, null, h)).toEqual({ ok: true });
    expect(pile.update(id, h, null)).toEqual({ ok: true });
    pile.close();
    const b = readFileSync(tmp.path("w.pile"));
    expect(b.length).toBe(128 + 64 + 64);
    expect(toHex(b.subarray(0, 16))).toBe(BLOB_MAGIC_HEX);
    expect(toHex(b.subarray(24, 32))).toBe("0400000000000000");
    expect(toHex(b.subarray(32, 64))).toBe(toHex(independentHash(utf8("data"))));
    expect(b.subarray(64, 68).toString()).toBe("data");
    expect(b.subarray(68, 128).every((x) => x === 0)).toBe(true);
    expect(toHex(b.subarray(128, 144))).toBe(BRANCH_MAGIC_HEX);
    expect(toHex(b.subarray(144, 160))).toBe(toHex(id));
    expect(toHex(b.subarray(160, 192))).toBe(toHex(h));
    expect(toHex(b.subarray(192, 208))).toBe(TOMBSTONE_MAGIC_HEX);
    expect(toHex(b.subarray(208, 224))).toBe(toHex(id));
    expect(b.subarray(224, 256).every((x) => x === 0)).toBe(true);
  });

  test("a batch of mixed sizes is laid out record after record, each re-readable by hand", () => {
    const blobs = [5, 64, 70_000, 0, 200_000, 3].map((n, k) => new Uint8Array(n).fill(k + 1));
    const pile = Pile.open(tmp.path("m.pile"));
    pile.putMany(blobs);
    pile.close();
    const b = new Uint8Array(readFileSync(tmp.path("m.pile")));
    let at = 0;
    for (const blob of blobs) {
      const expected = handBlob(blob);
      expected.set(b.subarray(at + 16, at + 24), 16); // timestamps differ; everything else is fixed
      expect(toHex(b.subarray(at, at + expected.length))).toBe(toHex(expected));
      at += expected.length;
    }
    expect(at).toBe(b.length);
  });
});
