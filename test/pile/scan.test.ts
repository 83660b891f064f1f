/**
 * The record scan reads blob headers as 32-bit words when the bytes are 4-byte aligned (refresh's
 * hot path) and byte by byte otherwise. Both must see the same records and stop at the same place
 * with the same reason, on whole regions and on damaged or cut ones.
 */
import { expect, test } from "bun:test";
import { type ScanResult, scanRecords } from "../../src/pile/scan.ts";
import { concat, handBlob, handBranch, hex } from "./helpers.ts";

function scanLog(bytes: Uint8Array): { visits: string[]; result: ScanResult } {
  const visits: string[] = [];
  const result = scanRecords(bytes, 0, bytes.length, {
    blob: (at, length) => visits.push(`blob ${at} ${length}`),
    branch: (at, isHead) => visits.push(`${isHead ? "branch" : "tombstone"} ${at}`),
  });
  return { visits, result };
}

/** The same bytes at an odd address: no word view can be made, so every header is read byte-wise. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1).subarray(1);
  out.set(bytes);
  return out;
}

/** xorshift32, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const id = hex("0123456789abcdef0123456789abcdef");
const region = concat([
  handBlob(new Uint8Array(0)),
  handBlob(new Uint8Array(1).fill(1)),
  handBlob(new Uint8Array(64).fill(2)),
  handBranch(id, new Uint8Array(32).fill(9)),
  handBlob(new Uint8Array(100).fill(3)),
  handBranch(id, null),
  handBlob(new Uint8Array(4000).fill(4)),
  handBlob(new Uint8Array(65).fill(5)),
]);
/** Header starts of the records above, where damage matters most. */
const headers = scanLog(region).visits.map((v) => Number(v.split(" ")[1]));

test("word-wise and byte-wise scans agree on a whole region", () => {
  expect(region.byteOffset % 4).toBe(0);
  const words = scanLog(region);
  expect(words.result).toEqual({ ok: true, end: region.length });
  expect(words.visits).toHaveLength(8);
  expect(scanLog(unaligned(region))).toEqual(words);
});

test("word-wise and byte-wise scans agree on damaged headers and cut regions", () => {
  const next = random(0x5ca11ed);
  for (let round = 0; round < 3000; round++) {
    const bytes = region.slice();
    const header = headers[Math.floor(next() * headers.length)]!;
    const damage = Math.floor(next() * 4);
    if (damage === 0) {
      const at = header + Math.floor(next() * 16); // a bit of the magic
      bytes[at] = bytes[at]! ^ (1 << Math.floor(next() * 8));
    }
    else if (damage === 1) bytes[header + 24 + Math.floor(next() * 8)] = Math.floor(next() * 256); // length
    else if (damage === 2) new DataView(bytes.buffer).setUint32(header + 28, [0xffff, 0x10000, 0xffffffff, 1][Math.floor(next() * 4)]!, true); // length's high word
    const cut = damage === 3 || next() < 0.3 ? Math.floor(next() * bytes.length) : bytes.length;
    const view = bytes.subarray(0, cut);
    const words = scanLog(view);
    const plain = scanLog(unaligned(view));
    if (JSON.stringify(words) !== JSON.stringify(plain)) throw new Error(`round ${round}: header ${header}, damage ${damage}, cut ${cut}: ${JSON.stringify(words)} vs ${JSON.stringify(plain)}`);
  }
});
