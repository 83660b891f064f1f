/**
 * A pile larger than 2 GiB: the mapping is read through views of at most about 1 GiB (file-view.ts
 * SEGMENT; JavaScriptCore indexes larger typed arrays several times slower), so record offsets are
 * translated into segments and the open scan reads through windows. The file is sparse: one blob
 * record whose payload (never written, never read) spans 2 GiB, then small blobs on both sides of
 * the segment boundary at 2 GiB, a branch record, and one blob torn at the end.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { closeSync, ftruncateSync, openSync, statSync, writeSync } from "node:fs";
import { SEGMENT } from "../../src/pile/file-view.ts";
import { Pile } from "../../src/pile/pile.ts";
import { handBlob, handBranch, independentHash, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** A big blob's header (magic, timestamp, length, a hash): its payload is a hole in the file. */
function bigHeader(length: number): Uint8Array {
  const header = handBlob(new Uint8Array(0)).slice(0, 64);
  new DataView(header.buffer).setBigUint64(24, BigInt(length), true);
  header.fill(0x77, 32, 64);
  return header;
}

test("blobs past 2 GiB and on both sides of a segment boundary read back, through open and refresh", () => {
  const path = tmp.path("big.pile");
  // The small records start 1 KiB before the boundary at 2 × SEGMENT: the first one's header and
  // payload cross it.
  const smallStart = 2 * SEGMENT - 1024;
  const bigLength = smallStart - 64;
  const blobs = Array.from({ length: 64 }, (_, i) => new Uint8Array(100 + i * 61).fill(i + 1));
  const records = blobs.map((b) => handBlob(b));
  const branchId = new Uint8Array(16).fill(5);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, bigHeader(bigLength), 0, 64, 0);
    let at = smallStart;
    for (const r of records.slice(0, 40)) at += writeSync(fd, r, 0, r.length, at);
    at += writeSync(fd, handBranch(branchId, independentHash(blobs[3]!)), 0, 64, at);
    ftruncateSync(fd, at);
  } finally {
    closeSync(fd);
  }
  expect(statSync(path).size).toBeGreaterThan(2 ** 31);

  const pile = Pile.open(path);
  try {
    expect(pile.blobCount).toBe(41);
    const reader = pile.reader();
    for (const b of blobs.slice(0, 40)) {
      expect(reader.sizeOf(independentHash(b))).toBe(b.length);
      expect(reader.get(independentHash(b))).toEqual(b);
    }
    expect(pile.head(branchId)).toEqual(independentHash(blobs[3]!));
    // Appended by another handle: small growth is read into the tail, then a re-map (more than
    // the tail takes) is scanned from where the last scan stopped, past 2 GiB.
    const other = Pile.open(path);
    other.putMany(blobs.slice(40, 44));
    pile.refresh();
    for (const b of blobs.slice(40, 44)) expect(pile.reader().get(independentHash(b))).toEqual(b);
    other.putMany(Array.from({ length: 80 }, (_, i) => new Uint8Array(64 * 1024 - 200).fill(i)));
    other.putMany(blobs.slice(44));
    other.close();
    pile.refresh();
    const after = pile.reader();
    for (const b of blobs) expect(after.get(independentHash(b))).toEqual(b);
    expect(pile.blobCount).toBe(41 + 24 + 80);
  } finally {
    pile.close();
  }
}, 60_000);

test("a blob torn past 2 GiB is cut off at open, its bytes saved aside", () => {
  const path = tmp.path("torn.pile");
  const smallStart = 2 * SEGMENT + 4096;
  const small = new Uint8Array(3000).fill(9);
  const record = handBlob(small);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, bigHeader(smallStart - 64), 0, 64, 0);
    writeSync(fd, record, 0, record.length, smallStart);
    // Half a record: the header of a 3000-byte blob and 1000 bytes of its payload.
    writeSync(fd, record, 0, 1064, smallStart + record.length);
  } finally {
    closeSync(fd);
  }
  const pile = Pile.open(path);
  try {
    expect(pile.repairedTails.map((t) => t.offset)).toEqual([smallStart + record.length]);
    expect(statSync(path).size).toBe(smallStart + record.length);
    expect(pile.reader().get(independentHash(small))).toEqual(small);
  } finally {
    pile.close();
  }
}, 60_000);
