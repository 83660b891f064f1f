/**
 * A pile of small blobs does not stay resident: neither opening it (the scan touches every page)
 * nor reading its blobs (what a server does for a peer's full sync) leaves more than a bounded
 * part of the file's mapping in the process's RSS. Measured from the kernel (/proc/self/smaps).
 *
 * The kernel maps the whole folio of a touched page (up to FOLIO bytes when the page cache holds
 * large folios, as ext4 and xfs do on recent kernels). Where it maps single pages, the bounds
 * below hold with or without the releases, so these tests then check less.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { closeSync, ftruncateSync, openSync, readFileSync, readSync, realpathSync, writeSync } from "node:fs";
import { RESIDENT_RELEASE_BYTES, ResidentMeter } from "../../src/pile/file-view.ts";
import { Pile } from "../../src/pile/pile.ts";
import { FOLIO, releaseUnavailable } from "../../src/pile/release-pages.ts";
import { handBlob, independentHash, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** Resident bytes of this process's mappings of `path` (the sum of their smaps Rss lines). */
function residentOf(path: string): number {
  const real = realpathSync(path);
  let inFile = false;
  let kib = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.trimEnd().endsWith(real);
    else if (inFile && line.startsWith("Rss:")) kib += Number(line.split(/\s+/)[1]);
  }
  return kib * 1024;
}

/** Payload size whose record (64-byte header, padding) is exactly 4 KiB: record k starts at k × 4 KiB. */
const BLOB = 4000;
const RECORD = 4096;
const COUNT = Math.ceil((3 * RESIDENT_RELEASE_BYTES) / RECORD); // three release budgets of file
const FILE_BYTES = COUNT * RECORD;

/** Writes COUNT distinct blobs of BLOB bytes (record k at offset k × RECORD); returns their hashes. */
function writeSmallBlobs(path: string): Uint8Array[] {
  const fd = openSync(path, "w");
  const hashes: Uint8Array[] = [];
  try {
    for (let at = 0; at < COUNT; at += 1024) {
      const records: Uint8Array[] = [];
      for (let k = at; k < Math.min(COUNT, at + 1024); k++) {
        const payload = new Uint8Array(BLOB);
        new DataView(payload.buffer).setUint32(0, k, true);
        hashes.push(independentHash(payload));
        records.push(handBlob(payload));
      }
      writeSync(fd, Buffer.concat(records));
    }
  } finally {
    closeSync(fd);
  }
  return hashes;
}

const linuxOnly = test.skipIf(process.platform !== "linux");

linuxOnly("opening and reading every small blob in file order keeps the mapping's resident bytes bounded", () => {
  const path = tmp.path("small.pile");
  const hashes = writeSmallBlobs(path);
  const pile = Pile.open(path);
  try {
    expect(releaseUnavailable).toBeUndefined();
    // After the open scan: its windows were given back (before, every page stayed resident).
    expect(residentOf(path)).toBeLessThan(FILE_BYTES / 4);
    const reader = pile.reader();
    let peak = 0;
    hashes.forEach((h, i) => {
      expect(reader.get(h)?.length).toBe(BLOB);
      if (i % 500 === 0) peak = Math.max(peak, residentOf(path)); // smaps is too slow to read per blob
    });
    // Reading the whole file through the mapping keeps about one budget resident (plus the
    // kernel's read-around), not the file.
    peak = Math.max(peak, residentOf(path));
    expect(peak).toBeLessThan(RESIDENT_RELEASE_BYTES + 8 * 1024 * 1024);
    expect(peak).toBeLessThan(FILE_BYTES / 2);
  } finally {
    pile.close();
  }
}, 60_000);

linuxOnly("reads spread one per folio count what they make resident, not their length", () => {
  const path = tmp.path("spread.pile");
  const hashes = writeSmallBlobs(path);
  const pile = Pile.open(path);
  try {
    const reader = pile.reader();
    let peak = 0;
    // One 4 KB blob per folio across the file: 4 KB read each time, a folio made resident.
    for (let k = 0; k < COUNT; k += FOLIO / RECORD) {
      expect(reader.get(hashes[k]!)?.length).toBe(BLOB);
      peak = Math.max(peak, residentOf(path));
    }
    // Counted by length (4 KiB a read) these 48 reads never reached the budget: 96 MiB stayed resident.
    expect(peak).toBeLessThan(RESIDENT_RELEASE_BYTES + 2 * FOLIO);
  } finally {
    pile.close();
  }
}, 60_000);

linuxOnly("an open scan gives back records it reads again behind its window (duplicates of earlier blobs)", () => {
  const path = tmp.path("dups.pile");
  writeSmallBlobs(path);
  // Copies of a record in every fourth folio of the first two windows, appended at the end
  // (FORMATS §6.2 allows duplicates): indexing each compares its key with the earlier record's,
  // in the file. Eight folios: fewer than the reads' budget, so only the scan gives them back.
  const fd = openSync(path, "r+");
  try {
    const record = new Uint8Array(RECORD);
    let end = FILE_BYTES;
    for (let at = 0; at < 2 * RESIDENT_RELEASE_BYTES; at += 4 * FOLIO, end += RECORD) {
      readSync(fd, record, 0, RECORD, at);
      writeSync(fd, record, 0, RECORD, end);
    }
  } finally {
    closeSync(fd);
  }
  const pile = Pile.open(path);
  try {
    expect(pile.blobCount).toBe(COUNT);
    // Released only window by window, the earlier records' folios stayed resident (16 MiB).
    expect(residentOf(path)).toBeLessThan(FOLIO);
  } finally {
    pile.close();
  }
}, 60_000);

linuxOnly("the meter counts each folio once until it is given back, however often it is read", () => {
  // A sparse file: only the meter's counting is under test here, not what the kernel maps.
  const path = tmp.path("sparse");
  const fd = openSync(path, "w");
  ftruncateSync(fd, 64 * FOLIO);
  closeSync(fd);
  const map = Bun.mmap(path, { shared: false });
  const budget = RESIDENT_RELEASE_BYTES / FOLIO;

  // Reads going back and forth between two folios (the chunks of one commit): never a release.
  const local = new ResidentMeter(map);
  for (let i = 0; i < 10_000; i++) local.note((i % 2) * FOLIO + (i % 500) * 64, 32);
  expect(local.releases).toBe(0);

  // Reads entering a new folio each time: one release per budget of folios.
  const spread = new ResidentMeter(map);
  for (let f = 0; f < 3 * budget; f++) spread.note(f * FOLIO + 100, 32);
  expect(spread.releases).toBe(3);

  // A read across a folio boundary enters both (1 and 2); a partial release forgets only the
  // folios it covers wholly: 2 still counts, so budget - 1 new folios reach the budget.
  const partial = new ResidentMeter(map);
  partial.note(2 * FOLIO - 16, 32);
  partial.release(0, 2 * FOLIO + 1);
  expect(partial.releases).toBe(1);
  for (let f = 3; f < budget + 1; f++) partial.note(f * FOLIO, 32);
  expect(partial.releases).toBe(1);
  partial.note((budget + 1) * FOLIO, 32);
  expect(partial.releases).toBe(2);
});
