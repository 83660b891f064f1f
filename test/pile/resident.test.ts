/**
 * A pile of small blobs does not stay resident: neither opening it (the scan touches every page)
 * nor reading every blob (what a server does for a peer's full sync) leaves more than a bounded
 * part of the file's mapping in the process's RSS. Measured from the kernel (/proc/self/smaps).
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync, realpathSync } from "node:fs";
import { RESIDENT_RELEASE_BYTES } from "../../src/pile/file-view.ts";
import { Pile } from "../../src/pile/pile.ts";
import { releaseUnavailable } from "../../src/pile/release-pages.ts";
import { tempDir } from "./helpers.ts";

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

const BLOB = 4000;
const COUNT = Math.ceil((3 * RESIDENT_RELEASE_BYTES) / BLOB); // three release budgets of file

test.skipIf(process.platform !== "linux")("opening and reading every small blob keeps the mapping's resident bytes bounded", () => {
  const path = tmp.path("small.pile");
  const writer = Pile.open(path);
  const hashes: Uint8Array[] = [];
  for (let at = 0; at < COUNT; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, COUNT - at) }, (_, k) => {
      const b = new Uint8Array(BLOB);
      new DataView(b.buffer).setUint32(0, at + k, true);
      return b;
    });
    hashes.push(...writer.putMany(batch));
  }
  writer.close();

  const pile = Pile.open(path);
  try {
    expect(releaseUnavailable).toBeUndefined();
    const fileBytes = COUNT * BLOB;
    // After the open scan: its windows were given back (before, every page stayed resident).
    expect(residentOf(path)).toBeLessThan(fileBytes / 4);
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
    expect(peak).toBeLessThan(fileBytes / 2);
  } finally {
    pile.close();
  }
}, 60_000);
