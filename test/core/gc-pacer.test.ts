/** GcPacer with resident memory played by the test: it collects on growth, not on a count of bytes. */
import { describe, expect, test } from "bun:test";
import { CHECK_BYTES, DEEP_EVERY, GcPacer, SLACK_BYTES } from "../../src/core/gc-pacer.ts";

const MiB = 1 << 20;

/** A pacer over a resident size the test sets; a collection brings it down to `afterCollect`. */
function played(start: number, afterCollect: number) {
  const memory = { resident: start, looks: 0, deep: [] as number[] };
  let collections = 0;
  const pacer = new GcPacer(
    () => {
      memory.looks++;
      return memory.resident;
    },
    (deep) => {
      collections++;
      if (deep) memory.deep.push(collections);
      memory.resident = afterCollect;
    },
  );
  return { memory, pacer };
}

describe("GcPacer", () => {
  test("looks at resident memory once per CHECK_BYTES noted", () => {
    const { memory, pacer } = played(100 * MiB, 100 * MiB);
    for (let i = 0; i < 10; i++) pacer.note(CHECK_BYTES / 4);
    expect(memory.looks).toBe(2);
  });

  test("collects once memory has grown SLACK_BYTES above the lowest seen, whatever was noted", () => {
    const { memory, pacer } = played(100 * MiB, 100 * MiB);
    pacer.note(CHECK_BYTES);
    // Megabytes of notes while memory stays put: no collection (a byte count would have collected).
    for (let i = 0; i < 64; i++) pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(0);
    // Memory dips, then grows: the slack counts from the dip.
    memory.resident = 96 * MiB;
    pacer.note(CHECK_BYTES);
    memory.resident = 96 * MiB + SLACK_BYTES - 1;
    pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(0);
    memory.resident = 96 * MiB + SLACK_BYTES;
    pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(1);
    expect(memory.resident).toBe(100 * MiB);
  });

  test("after a collection the slack counts from what it left, even when it freed little", () => {
    // Live memory grew: a collection brings it back to 120 MiB only.
    const { memory, pacer } = played(100 * MiB, 120 * MiB);
    pacer.note(CHECK_BYTES);
    memory.resident = 100 * MiB + SLACK_BYTES;
    pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(1);
    // At 120 MiB: not collected again until 120 MiB + SLACK_BYTES.
    for (let i = 0; i < 8; i++) pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(1);
    memory.resident = 120 * MiB + SLACK_BYTES;
    pacer.note(CHECK_BYTES);
    expect(pacer.collections).toBe(2);
  });

  test("every DEEP_EVERY-th collection is a deep one (the allocator's free memory given back)", () => {
    const { memory, pacer } = played(100 * MiB, 100 * MiB);
    pacer.note(CHECK_BYTES);
    for (let i = 0; i < 3 * DEEP_EVERY; i++) {
      memory.resident = 100 * MiB + SLACK_BYTES;
      pacer.note(CHECK_BYTES);
    }
    expect(pacer.collections).toBe(3 * DEEP_EVERY);
    expect(memory.deep).toEqual([DEEP_EVERY, 2 * DEEP_EVERY, 3 * DEEP_EVERY]);
  });
});
