/** Byte progress text: done, total, rate and ETA; a fetch's total estimated from the blobs still missing. */
import { describe, expect, test } from "bun:test";
import { describeBytes, fetchEstimate } from "../../src/cli/progress.ts";

describe("byte progress", () => {
  test("says done of total, the rate and the time left", () => {
    expect(describeBytes(400e6, 1000e6, 10)).toBe("400.0 of 1000.0 MB (40%), 40.0 MB/s, 15 s left");
    expect(describeBytes(100e6, 10_000e6, 10)).toBe("100.0 of 10000.0 MB (1%), 10.0 MB/s, 16 min 30 s left");
  });

  test("marks an estimated total and one that may still grow", () => {
    expect(describeBytes(400e6, 1000e6, 10, { approximate: true })).toBe("400.0 of ~1000.0 MB (40%), 40.0 MB/s, about 15 s left");
    expect(describeBytes(400e6, 1000e6, 10, { growing: true })).toBe("400.0 of ≥ 1000.0 MB so far (40%), 40.0 MB/s");
  });

  test("a fetch's total is the bytes stored plus the missing blobs at the average size stored", () => {
    // 1,024 chunks of 1 MiB and 4 small blobs discovered; 100 stored so far, 100 MiB of them.
    const MiB = 1 << 20;
    const e = fetchEstimate({ discovered: 1028, stored: 100, bytes: 100 * MiB, discovering: false });
    expect(e.done).toBe(100 * MiB);
    expect(e.total).toBe(1028 * MiB);
    expect(e.growing).toBe(false);
    expect(fetchEstimate({ discovered: 5, stored: 0, bytes: 0, discovering: true })).toEqual({ done: 0, total: 0, growing: true });
  });
});
