/**
 * Untrusted bytes: random damage to a valid pile (bit flips, cuts, garbage, forged length fields)
 * must end in a clean open or a clear PileError — never a crash, a hang, a huge allocation, or
 * bytes that fail their hash.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { diagnosePile } from "../../src/pile/diagnose.ts";
import { PileError, PileIntegrityError } from "../../src/pile/errors.ts";
import { Pile } from "../../src/pile/pile.ts";
import { concat, handBlob, handBranch, independentHash, tempDir } from "./helpers.ts";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const record = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((p) => handBlob(p)),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }))).map(([id, head]) => {
    id[0] = id[0]! | 1; // keep ids non-nil in the valid base file
    return handBranch(id, head);
  }),
);

const damage = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
  fc.record({ kind: fc.constant("length" as const), record: fc.nat(), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function apply(file: Uint8Array, d: Damage): Uint8Array {
  if (d.kind === "flip") {
    if (file.length === 0) return file;
    const out = file.slice();
    out[d.at % out.length]! ^= 1 << d.bit;
    return out;
  }
  if (d.kind === "cut") return file.subarray(0, file.length === 0 ? 0 : d.at % file.length);
  if (d.kind === "append") return concat([file, d.bytes]);
  const out = file.slice();
  const at = (d.record % Math.max(1, Math.floor(out.length / 64))) * 64 + 24; // a 64-byte boundary's length slot
  if (at + 8 <= out.length) new DataView(out.buffer).setBigUint64(at, d.value, true);
  return out;
}

test("open of a damaged pile either succeeds with verified reads or throws a PileError", () => {
  let n = 0;
  fc.assert(
    fc.property(fc.array(record, { maxLength: 8 }), fc.array(damage, { minLength: 1, maxLength: 3 }), (records, damages) => {
      const path = tmp.path(`f${n++}.pile`);
      let file = concat(records);
      for (const d of damages) file = apply(file, d);
      writeFileSync(path, file);
      const report = diagnosePile(path); // never throws on any content
      let pile: Pile;
      try {
        pile = Pile.open(path, { create: false });
      } catch (err) {
        expect(err).toBeInstanceOf(PileError);
        expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(file)); // refused: untouched
        expect(report.corruption?.tornTail).toBe(false);
        return;
      }
      const size = statSync(path).size;
      expect(size % 64 === 0 || size === file.length).toBe(true);
      expect(size).toBe(report.corruption ? report.corruption.offset : file.length);
      const r = pile.reader();
      for (const h of r.list()) {
        try {
          const bytes = r.get(h)!;
          expect(independentHash(bytes)).toEqual(h);
        } catch (err) {
          expect(err).toBeInstanceOf(PileIntegrityError);
        }
      }
      pile.close();
    }),
    { numRuns: 400 },
  );
}, 60_000);
