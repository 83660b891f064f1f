/** The pile's blob index keeps its presence filter sparse as it grows (counted, not timed). */
import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { notedBytes } from "../../src/core/gc-pacer.ts";
import { BlobIndex } from "../../src/pile/blob-index.ts";
import { Bytes } from "../../src/pile/file-view.ts";

test("lookups of absent keys rarely pass the presence filter, even at 400,000 entries", () => {
  const n = 400_000;
  // A stand-in for a pile file: record i's key sits at bytes 64i+32..64i+64, as in a record header.
  const file = new Uint8Array(64 * n);
  for (let i = 0; i < n; i++) file.set(randomBytes(32), 64 * i + 32);
  const bytes = new Bytes(file, Number.POSITIVE_INFINITY, new Uint8Array(0));
  const index = new BlobIndex();
  for (let i = 0; i < n; i++) expect(index.add(file, 64 * i + 32, 64 * i, bytes)).toBe(i);
  // Every key is still found after the filter was rebuilt larger.
  for (let i = 0; i < n; i += 97) expect(index.find(file, 64 * i + 32, bytes)).toBe(i);

  index.fullLookups = 0;
  const probes = 100_000;
  const absent = randomBytes(32 * probes);
  for (let k = 0; k < probes; k++) expect(index.find(absent, 32 * k, bytes)).toBe(-1);
  // At 16 filter bits per entry about 6% of absent keys pass; a fixed 2^21 bits let 17% through.
  expect(index.fullLookups / probes).toBeLessThan(0.1);
  expect(index.byteLength / n).toBeLessThan(64);
}, 60_000);

test("the arrays the index outgrows are noted for collection pacing", () => {
  // Opening a million-blob pile outgrew about 80 MB of arrays, left as garbage until a collection.
  const n = 400_000;
  const file = new Uint8Array(64 * n);
  for (let i = 0; i < n; i++) new DataView(file.buffer).setUint32(64 * i + 32, i + 1);
  const bytes = new Bytes(file, Number.POSITIVE_INFINITY, new Uint8Array(0));
  const index = new BlobIndex();
  const before = notedBytes();
  for (let i = 0; i < n; i++) index.add(file, 64 * i + 32, 64 * i, bytes);
  // About 18 MB outgrown (slots, offsets, first words, filter).
  expect(notedBytes() - before).toBeGreaterThanOrEqual(16e6);
  expect(index.find(file, 64 * (n - 1) + 32, bytes)).toBe(n - 1);
});
