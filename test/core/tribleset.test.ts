import { describe, expect, test } from "bun:test";
import { randomFillSync } from "node:crypto";
import fc from "fast-check";
import { decodeSimpleArchive, encodeSimpleArchive } from "../../src/core/archive.ts";
import { toHex } from "../../src/core/bytes.ts";
import { type TriblePattern, TribleSet } from "../../src/core/tribleset.ts";

// Tiny alphabets: many duplicates, shared entities and attributes, equal values.
const part = (len: number, max: number) => fc.integer({ min: 1, max }).map((x) => new Uint8Array(len).fill(x));
const e = part(16, 5);
const a = part(16, 4);
const v = fc.oneof(part(32, 4), fc.constant(new Uint8Array(32)));
const tribleParts = fc.tuple(e, a, v);

type Op =
  | { kind: "add"; t: [Uint8Array, Uint8Array, Uint8Array] }
  | { kind: "has"; t: [Uint8Array, Uint8Array, Uint8Array] }
  | { kind: "query"; p: TriblePattern };
const pattern = fc.record({ e, a, v }, { requiredKeys: [] });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: tribleParts.map((t) => ({ kind: "add" as const, t })) },
  { weight: 2, arbitrary: tribleParts.map((t) => ({ kind: "has" as const, t })) },
  { weight: 1, arbitrary: pattern.map((p) => ({ kind: "query" as const, p })) },
);

const join = (t: [Uint8Array, Uint8Array, Uint8Array]) => new Uint8Array([...t[0], ...t[1], ...t[2]]);

/** The reference model: a map from hex to trible; lower-case hex sorts like the bytes. */
function modelFind(model: Map<string, Uint8Array>, p: TriblePattern): string[] {
  const hit = (t: Uint8Array, off: number, want?: Uint8Array) => !want || toHex(t.subarray(off, off + want.length)) === toHex(want);
  return [...model.entries()]
    .filter(([, t]) => hit(t, 0, p.e) && hit(t, 16, p.a) && hit(t, 32, p.v))
    .map(([k]) => k)
    .sort();
}

function checkAgainstModel(set: TribleSet, model: Map<string, Uint8Array>, p: TriblePattern): void {
  expect(set.find(p).map(toHex)).toEqual(modelFind(model, p));
  if (p.e && p.a) expect(set.values(p.e, p.a).map(toHex)).toEqual(modelFind(model, { e: p.e, a: p.a }).map((h) => h.slice(64)));
  if (p.a) {
    const ents = [...new Set(modelFind(model, { a: p.a, v: p.v }).map((h) => h.slice(0, 32)))];
    expect(set.entitiesWith(p.a, p.v).map(toHex)).toEqual(ents);
  }
}

describe("TribleSet against a simple model", () => {
  test("interleaved adds, membership tests and queries", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 700 }), (ops) => {
        const set = new TribleSet();
        const model = new Map<string, Uint8Array>();
        for (const o of ops) {
          if (o.kind === "add") {
            const t = join(o.t);
            if (model.size % 2 === 0) set.add(...o.t);
            else set.addTrible(t);
            model.set(toHex(t), t);
          } else if (o.kind === "has") {
            expect(set.has(join(o.t))).toBe(model.has(toHex(join(o.t))));
          } else {
            checkAgainstModel(set, model, o.p);
          }
        }
        expect(set.size).toBe(model.size);
        expect([...set].map(toHex)).toEqual([...model.keys()].sort());
        expect(set.entities().map(toHex)).toEqual([...new Set([...model.keys()].sort().map((h) => h.slice(0, 32)))]);
      }),
      { numRuns: 80 },
    );
  }, 20_000);

  test("has() is false for anything that is not a 64-byte trible", () => {
    const set = new TribleSet().add(new Uint8Array(16).fill(1), new Uint8Array(16).fill(2), new Uint8Array(32));
    expect(set.has(new Uint8Array(63))).toBe(false);
    expect(set.has(new Uint8Array([...new Uint8Array(16).fill(1), ...new Uint8Array(16).fill(2)]))).toBe(false);
    expect(() => set.addTrible(new Uint8Array(65))).toThrow("a trible is 64 bytes, got 65");
  }, 1_000);

  test("views handed out never change when the set changes later", () => {
    const set = new TribleSet();
    for (let i = 1; i <= 50; i++) set.add(new Uint8Array(16).fill(i), new Uint8Array(16).fill(1), new Uint8Array(32).fill(i));
    const found = set.find({ a: new Uint8Array(16).fill(1) });
    const before = found.map(toHex);
    const iter = set[Symbol.iterator]();
    const first = toHex(iter.next().value as Uint8Array);
    for (let i = 1; i <= 50; i++) set.add(new Uint8Array(16).fill(i), new Uint8Array(16).fill(2), new Uint8Array(32));
    set.unionInPlace(new TribleSet().add(new Uint8Array(16).fill(9), new Uint8Array(16).fill(9), new Uint8Array(32)));
    expect(set.size).toBe(101);
    expect(found.map(toHex)).toEqual(before);
    expect(first).toBe(before[0]!);
  }, 1_000);

  test("optionalValue returns a copy, undefined, or throws on several values", () => {
    const [x, attr] = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)];
    const set = new TribleSet().add(x, attr, new Uint8Array(32).fill(7));
    expect(set.optionalValue(x, attr, "name", "ctx")).toEqual(new Uint8Array(32).fill(7));
    expect(set.optionalValue(attr, attr, "name", "ctx")).toBeUndefined();
    set.add(x, attr, new Uint8Array(32).fill(8));
    expect(() => set.optionalValue(x, attr, "name", "ctx")).toThrow("ctx: 2 name values");
  }, 1_000);
});

describe("TribleSet at scale", () => {
  const N = 100_000;
  const randomTribles = (n: number, attrs: number) => {
    const raw = new Uint8Array(n * 64);
    randomFillSync(raw);
    for (let i = 0; i < n; i++) {
      raw.fill(0, i * 64 + 16, i * 64 + 31);
      raw[i * 64 + 31] = 1 + (i % attrs);
    }
    return raw;
  };

  test("100k tribles: build, set algebra, archive round trip, queries", () => {
    const raw = randomTribles(N, 20);
    const x = new TribleSet();
    for (let i = 0; i < N; i++) x.addTrible(raw.subarray(i * 64, i * 64 + 64));
    // y shares the second half of x and adds 50k more.
    const y = TribleSet.fromTribles((function* () {
      for (let i = N / 2; i < N; i++) yield raw.subarray(i * 64, i * 64 + 64);
      const more = randomTribles(N / 2, 20);
      for (let i = 0; i < N / 2; i++) yield more.subarray(i * 64, i * 64 + 64);
    })());
    expect(x.size).toBe(N);
    expect(y.size).toBe(N);
    expect(x.union(y).size).toBe(150_000);
    expect(x.intersection(y).size).toBe(N / 2);
    expect(x.difference(y).size).toBe(N / 2);
    const bytes = encodeSimpleArchive(x);
    expect(decodeSimpleArchive(bytes).equals(x)).toBe(true);
    const attr = new Uint8Array(16);
    attr[15] = 3;
    expect(x.find({ a: attr }).length).toBe(N / 20);
    expect(x.entitiesWith(attr).length).toBe(N / 20);
  }, 15_000);

  test("adding one trible at a time with a membership test each time stays cheap on a large set", () => {
    const raw = randomTribles(N, 5);
    const set = TribleSet.fromTribles((function* () {
      for (let i = 0; i < N; i++) yield raw.subarray(i * 64, i * 64 + 64);
    })());
    expect(set.size).toBe(N);
    const fresh = randomTribles(20_000, 5);
    for (let i = 0; i < 20_000; i++) {
      const t = fresh.subarray(i * 64, i * 64 + 64);
      expect(set.has(t)).toBe(false);
      set.addTrible(t);
      expect(set.has(t)).toBe(true);
    }
    expect(set.size).toBe(N + 20_000);
  }, 15_000);
});
