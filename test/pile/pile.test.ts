import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { hash } from "../../src/core/blake3.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { PileCorruptError, PileIntegrityError } from "../../src/pile/errors.ts";
import { Pile } from "../../src/pile/pile.ts";
import { tempDir } from "./helpers.ts";

const enc = new TextEncoder();
let tmp = tempDir();
afterEach(() => {
  tmp.cleanup();
  tmp = tempDir();
});

/** Builds record bytes by hand from FORMATS §6.1, independent of the writer. */
function handBlob(payload: Uint8Array, ts = 1234n): Uint8Array {
  const pad = (64 - (payload.length % 64)) % 64;
  const out = new Uint8Array(64 + payload.length + pad);
  out.set(fromHex("1E08B022FF2F47B6EBACF1D68EB35D96"), 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(16, ts, true);
  view.setBigUint64(24, BigInt(payload.length), true);
  out.set(hash(payload), 32);
  out.set(payload, 64);
  return out;
}
function handBranch(id: Uint8Array, head: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(64);
  out.set(fromHex(head ? "2BC991A7F5D5D2A3A468C53B0AA03504" : "E888CC787202D2AE4C654BFE9699C430"), 0);
  out.set(id, 16);
  if (head) out.set(head, 32);
  return out;
}

describe("pile byte compatibility", () => {
  test("reads a pile built by hand from the spec layouts", () => {
    const id = new Uint8Array(16).fill(7);
    const data = enc.encode("data");
    const head = hash(enc.encode("meta"));
    const bytes = [handBlob(new Uint8Array(0)), handBlob(data), handBranch(id, hash(data)), handBranch(id, head)];
    writeFileSync(tmp.path("hand.pile"), Buffer.concat(bytes));
    const pile = Pile.open(tmp.path("hand.pile"));
    const r = pile.reader();
    expect(r.len).toBe(2);
    expect(r.get(hash(data))).toEqual(data);
    expect(r.get(hash(new Uint8Array(0)))).toEqual(new Uint8Array(0));
    expect(pile.head(id)).toEqual(head);
    pile.close();
    const id2 = new Uint8Array(16).fill(9);
    appendFileSync(tmp.path("hand.pile"), Buffer.concat([handBranch(id2, head), handBranch(id2, null)]));
    const again = Pile.open(tmp.path("hand.pile"));
    expect(again.branches().map(toHex)).toEqual([toHex(id)]);
    again.close();
  });

  test("the writer's bytes match the layouts field by field", () => {
    const pile = Pile.open(tmp.path("w.pile"));
    const before = Date.now();
    const h = pile.put(enc.encode("data"));
    const id = new Uint8Array(16).fill(3);
    expect(pile.update(id, null, h)).toEqual({ ok: true });
    expect(pile.update(id, h, null)).toEqual({ ok: true });
    pile.close();
    const bytes = readFileSync(tmp.path("w.pile"));
    expect(bytes.length).toBe(128 + 64 + 64);
    expect(toHex(bytes.subarray(0, 16))).toBe("1e08b022ff2f47b6ebacf1d68eb35d96");
    const ts = Number(bytes.readBigUInt64LE(16));
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(toHex(bytes.subarray(24, 32))).toBe("0400000000000000");
    expect(bytes.subarray(32, 64)).toEqual(Buffer.from(hash(enc.encode("data"))));
    expect(bytes.subarray(64, 68).toString()).toBe("data");
    expect(bytes.subarray(68, 128).every((b) => b === 0)).toBe(true);
    expect(toHex(bytes.subarray(128, 144))).toBe("2bc991a7f5d5d2a3a468c53b0aa03504");
    expect(bytes.subarray(144, 160)).toEqual(Buffer.from(id));
    expect(bytes.subarray(160, 192)).toEqual(Buffer.from(h));
    expect(toHex(bytes.subarray(192, 208))).toBe("e888cc787202d2ae4c654bfe9699c430");
    expect(bytes.subarray(224, 256).every((b) => b === 0)).toBe(true);
  });
});

describe("pile behaviour", () => {
  test("snapshots are isolated from later appends; duplicate puts write nothing", () => {
    const pile = Pile.open(tmp.path("s.pile"));
    const a = pile.put(enc.encode("a"));
    const snap = pile.reader();
    const size = statSync(tmp.path("s.pile")).size;
    pile.put(enc.encode("a"));
    pile.putMany([enc.encode("a"), enc.encode("a")]);
    expect(statSync(tmp.path("s.pile")).size).toBe(size);
    const b = pile.put(enc.encode("b"));
    expect(snap.has(b)).toBe(false);
    expect(snap.get(b)).toBeUndefined();
    expect([...snap.list()].map(toHex)).toEqual([toHex(a)]);
    expect(pile.reader().len).toBe(2);
    pile.close();
  });

  test("another handle's appends appear on refresh; branch CAS conflicts report the head", () => {
    const one = Pile.open(tmp.path("c.pile"));
    const two = Pile.open(tmp.path("c.pile"));
    const h = one.put(enc.encode("x"));
    expect(two.reader().has(h)).toBe(true);
    const id = new Uint8Array(16).fill(1);
    expect(one.update(id, null, h)).toEqual({ ok: true });
    expect(two.update(id, null, h)).toEqual({ ok: false, current: h });
    one.close();
    two.close();
  });

  test("a damaged payload is an error naming its offset, never bad bytes", () => {
    const pile = Pile.open(tmp.path("d.pile"));
    pile.put(enc.encode("first"));
    const h = pile.put(enc.encode("second"));
    pile.close();
    const bytes = readFileSync(tmp.path("d.pile"));
    bytes[128 + 64]! ^= 0xff;
    writeFileSync(tmp.path("d.pile"), bytes);
    const again = Pile.open(tmp.path("d.pile"));
    expect(() => again.reader().get(h)).toThrow(PileIntegrityError);
    expect(() => again.reader().get(h)).toThrow("offset 128");
    // A valid copy put later replaces the damaged one.
    again.put(enc.encode("second"));
    expect(again.reader().get(h)).toEqual(enc.encode("second"));
    again.close();
  });

  test("bad magic and huge lengths in the middle are reported, file untouched", () => {
    const good = Buffer.concat([handBlob(enc.encode("one")), handBlob(enc.encode("two")), handBlob(enc.encode("three"))]);
    const badMagic = Buffer.from(good);
    badMagic[128]! ^= 1;
    writeFileSync(tmp.path("m.pile"), badMagic);
    expect(() => Pile.open(tmp.path("m.pile"))).toThrow(PileCorruptError);
    expect(() => Pile.open(tmp.path("m.pile"))).toThrow("offset 128");
    expect(readFileSync(tmp.path("m.pile"))).toEqual(badMagic);

    const hugeLength = Buffer.from(good);
    hugeLength.writeBigUInt64LE(1_000_000n, 128 + 24);
    writeFileSync(tmp.path("l.pile"), hugeLength);
    expect(() => Pile.open(tmp.path("l.pile"))).toThrow("offset 128");
    hugeLength.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 128 + 24);
    writeFileSync(tmp.path("l.pile"), hugeLength);
    expect(() => Pile.open(tmp.path("l.pile"))).toThrow("offset 128");
    expect(readFileSync(tmp.path("l.pile"))).toEqual(hugeLength);
  });

  test("a huge length in the last record is a torn tail and is truncated", () => {
    const bytes = Buffer.concat([handBlob(enc.encode("one")), handBlob(enc.encode("two"))]);
    bytes.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 128 + 24);
    writeFileSync(tmp.path("t.pile"), bytes);
    const pile = Pile.open(tmp.path("t.pile"));
    expect(statSync(tmp.path("t.pile")).size).toBe(128);
    expect(pile.reader().has(hash(enc.encode("one")))).toBe(true);
    pile.close();
  });
});

describe("crash safety", () => {
  test("cutting at every offset of the last records recovers every complete record", () => {
    const path = tmp.path("full.pile");
    const pile = Pile.open(path);
    const acknowledged = [pile.put(enc.encode("base-1")), pile.put(new Uint8Array(100).fill(2))];
    const id = new Uint8Array(16).fill(5);
    pile.update(id, null, acknowledged[0]!);
    pile.flush();
    const stableLength = statSync(path).size;
    const tailBlobs = [new Uint8Array(130).fill(9), enc.encode("last")];
    const tailHashes = pile.putMany(tailBlobs);
    pile.update(id, acknowledged[0]!, tailHashes[1]!);
    pile.close();
    const full = readFileSync(path);
    const cutPath = tmp.path("cut.pile");
    for (let cut = stableLength; cut < full.length; cut++) {
      writeFileSync(cutPath, full.subarray(0, cut));
      const p = Pile.open(cutPath);
      const r = p.reader();
      for (const h of acknowledged) expect(r.has(h)).toBe(true);
      const recordEnds = [stableLength + 256, stableLength + 256 + 128, full.length];
      const complete = recordEnds.filter((end) => end <= cut).length;
      expect(statSync(cutPath).size).toBe([stableLength, ...recordEnds][complete]!);
      expect(r.has(tailHashes[0]!)).toBe(complete >= 1);
      expect(r.has(tailHashes[1]!)).toBe(complete >= 2);
      const extra = p.put(enc.encode(`after-${cut}`));
      expect(p.reader().get(extra)).toEqual(enc.encode(`after-${cut}`));
      p.close();
      expect(Pile.open(cutPath).reader().has(extra)).toBe(true);
      truncateSync(cutPath, 0);
    }
  }, 60_000);
});
