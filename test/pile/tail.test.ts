/**
 * Opening never destroys a valid record: a torn end together with a length field damaged earlier
 * in the file (a double fault) is corruption, refused untouched; a torn append of a blob whose
 * payload holds pile records is a torn tail, saved aside and cut.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { diagnosePile } from "../../src/pile/diagnose.ts";
import { PileCorruptError } from "../../src/pile/errors.ts";
import { Pile } from "../../src/pile/pile.ts";
import { concat, handBlob, independentHash, tempDir, utf8 } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** Deterministic bytes (so a failure reproduces). */
function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A pile written by the real writer: blobs of assorted sizes, and branch moves between them. */
function writePile(path: string, blobs: number): { offsets: number[]; hashes: Uint8Array[] } {
  const pile = Pile.open(path);
  const offsets: number[] = [];
  const hashes: Uint8Array[] = [];
  const id = new Uint8Array(16).fill(7);
  let head: Uint8Array | null = null;
  for (let i = 0; i < blobs; i++) {
    offsets.push(statSync(path).size);
    const h = pile.put(bytesOf([0, 5, 63, 64, 65, 700, 3000][i % 7]! + i, i));
    hashes.push(h);
    if (i % 5 === 4) {
      pile.update(id, head, h);
      head = h;
    }
  }
  pile.close();
  return { offsets, hashes };
}

/** Sets the u64 length field of the blob record at `at`. */
function setLength(bytes: Uint8Array, at: number, length: bigint): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at + 24, length, true);
  return bytes;
}

const tornEnds: [string, Uint8Array][] = [
  ["payload cut short", handBlob(bytesOf(500, 99)).subarray(0, 64 + 200)],
  ["header cut short", handBlob(bytesOf(500, 99)).subarray(0, 40)],
  ["part of a magic", handBlob(bytesOf(500, 99)).subarray(0, 9)],
  ["zeros", new Uint8Array(4096)],
];

describe("a damaged length field earlier in the file plus a torn end (double fault)", () => {
  for (const where of ["first", "middle"] as const) {
    test(`is refused untouched when the damaged record is the ${where} one, and diagnose says corruption`, () => {
      const path = tmp.path("p.pile");
      const { offsets } = writePile(path, 60);
      const intact = new Uint8Array(readFileSync(path));
      const damagedAt = where === "first" ? 0 : offsets[23]!;
      for (const [name, torn] of tornEnds) {
        // The damaged length runs past the end of the file, as a torn append's would.
        const bytes = concat([setLength(intact.slice(), damagedAt, BigInt(2 * intact.length + 100_000)), torn]);
        writeFileSync(path, bytes);
        const report = diagnosePile(path);
        expect({ name, ok: report.ok, corruption: report.corruption }).toMatchObject({ name, ok: false, corruption: { offset: damagedAt, tornTail: false, nothingAfter: false } });
        let error: unknown;
        try {
          Pile.open(path).close();
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(PileCorruptError);
        // The same words as diagnose, and the way out.
        expect((error as PileCorruptError).reason).toBe(report.corruption!.reason);
        expect((error as Error).message).toContain(report.corruption!.advice);
        expect((error as Error).message).toContain("repair --force");
        expect({ name, same: Buffer.compare(readFileSync(path), bytes) }).toEqual({ name, same: 0 });
        expect(readdirSync(tmp.dir).filter((f) => f.includes("damaged-tail"))).toEqual([]);
      }
    }, 30_000);
  }

  test("a damaged blob whose payload is itself a pile, followed by records of the same batch: its payload verifies, so it is refused", () => {
    // The hardest disguise: the bytes after the damaged header read as one run of records up to
    // the torn end, exactly like a stored pile cut short; only the hash tells them apart.
    const path = tmp.path("stored.pile");
    writePile(tmp.path("other.pile"), 30);
    const other = new Uint8Array(readFileSync(tmp.path("other.pile")));
    const pile = Pile.open(path);
    pile.put(utf8("before"));
    const start = statSync(path).size;
    const [stored, ...after] = pile.putMany([other, utf8("same batch 1"), bytesOf(3000, 5), utf8("same batch 3")]);
    pile.update(new Uint8Array(16).fill(9), null, stored!);
    pile.close();
    const intact = new Uint8Array(readFileSync(path));
    const bytes = concat([setLength(intact.slice(), start, BigInt(2 * intact.length + 100_000)), tornEnds[0]![1]]);
    writeFileSync(path, bytes);
    expect(() => Pile.open(path)).toThrow(new RegExp(`offset ${start}: .*payload verifies with ${other.length} bytes`));
    expect(Buffer.compare(readFileSync(path), bytes)).toBe(0);
    expect(diagnosePile(path)).toMatchObject({ ok: false, corruption: { offset: start, tornTail: false } });
    expect(after.length).toBe(3);
  }, 30_000);
  test("a damaged length field over a damaged payload is still refused: the records after it lie outside anything its payload could hold", () => {
    // Neither the hash (the payload is damaged too) nor the timestamps (all equal) give it away.
    const path = tmp.path("h.pile");
    const damaged = handBlob(bytesOf(700, 3), { ts: 5n });
    damaged[64 + 10]! ^= 0xff;
    const bytes = concat([handBlob(utf8("a"), { ts: 5n }), setLength(damaged, 0, 1_000_000n), handBlob(utf8("b"), { ts: 5n }), handBlob(utf8("c"), { ts: 5n }), tornEnds[0]![1]]);
    writeFileSync(path, bytes);
    expect(() => Pile.open(path)).toThrow(/offset 128: .*a valid blob record at offset 896 lies beyond the records its payload would hold/);
    expect(Buffer.compare(readFileSync(path), bytes)).toBe(0);
  }, 10_000);
});

describe("a torn append of a blob whose payload holds pile records", () => {
  test("is recognised as a torn tail wherever it was cut: saved aside, cut, and every record before it kept", () => {
    const { offsets } = writePile(tmp.path("other.pile"), 40);
    const other = new Uint8Array(readFileSync(tmp.path("other.pile")));
    const path = tmp.path("a.pile");
    const pile = Pile.open(path);
    const kept = [pile.put(utf8("kept 1")), pile.put(bytesOf(5000, 1))];
    pile.update(new Uint8Array(16).fill(3), null, kept[1]!);
    pile.close();
    const before = statSync(path).size;
    // The record a real `pile blob put a.pile other.pile` appends, taken from the writer itself.
    const scratch = Pile.open(tmp.path("scratch.pile"));
    scratch.put(other);
    scratch.close();
    const appended = new Uint8Array(readFileSync(tmp.path("scratch.pile")));
    const cuts = [64 + 10, 64 + offsets[17]!, 64 + offsets[17]! + 64 + 3, 64 + offsets[39]!, appended.length - 64 - 1];
    for (const cut of cuts) {
      const bytes = concat([new Uint8Array(readFileSync(path)).subarray(0, before), appended.subarray(0, cut)]);
      writeFileSync(path, bytes);
      expect({ cut, ok: diagnosePile(path).ok }).toEqual({ cut, ok: true });
      const again = Pile.open(path);
      expect(again.repairedTails.map((t) => [t.offset, t.bytes])).toEqual([[before, cut]]);
      for (const h of kept) expect(again.reader().get(h)).toBeDefined();
      again.close();
      expect(statSync(path).size).toBe(before);
      const saved = again.repairedTails[0]!.savedTo;
      expect(Buffer.compare(readFileSync(saved), bytes.subarray(before))).toBe(0);
      expect(independentHash(new Uint8Array(readFileSync(saved)).subarray(64))).not.toEqual(independentHash(other));
    }
    expect(existsSync(`${path}.damaged-tail-${before}.${cuts.length}`)).toBe(true);
  }, 30_000);
});
