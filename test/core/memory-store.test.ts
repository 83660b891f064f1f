import { describe, expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { HashIndex } from "../../src/core/hash-index.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";

const enc = new TextEncoder();

describe("HashIndex", () => {
  test("finds every inserted key across growth and misses absent ones", () => {
    const index = new HashIndex(4);
    const keys = Array.from({ length: 5000 }, (_, i) => hash(enc.encode(`k${i}`)));
    for (const [i, k] of keys.entries()) expect(index.insert(k)).toEqual({ entry: i, added: true });
    for (const [i, k] of keys.entries()) expect(index.find(k)).toBe(i);
    expect(index.insert(keys[7]!)).toEqual({ entry: 7, added: false });
    expect(index.find(hash(enc.encode("absent")))).toBe(-1);
    expect(index.size).toBe(5000);
  });
});

describe("MemoryStore", () => {
  test("readers are snapshots and duplicate puts store once", () => {
    const store = new MemoryStore();
    const a = store.put(enc.encode("a"));
    const snap = store.reader();
    const b = store.put(enc.encode("b"));
    store.put(enc.encode("a"));
    expect(snap.has(a)).toBe(true);
    expect(snap.has(b)).toBe(false);
    expect(snap.len).toBe(1);
    expect(store.reader().len).toBe(2);
    expect(new TextDecoder().decode(store.reader().get(b)!)).toBe("b");
  });

  test("putVerified stores blobs whose hashes match, and nothing of a batch with a wrong one", () => {
    const store = new MemoryStore();
    const blobs = [enc.encode("p"), enc.encode("q")];
    store.putVerified(blobs, blobs.map((b) => hash(b)));
    expect(store.reader().len).toBe(2);
    expect(() => store.putVerified([enc.encode("r"), enc.encode("s")], [hash(enc.encode("r")), hash(enc.encode("not s"))])).toThrow("does not match");
    expect(store.reader().has(hash(enc.encode("r")))).toBe(false);
    expect(() => store.putVerified(blobs, [])).toThrow("2 blobs but 0 hashes");
  });

  test("branch compare-and-swap reports the current head on conflict", () => {
    const store = new MemoryStore();
    const id = new Uint8Array(16).fill(1);
    const h1 = hash(enc.encode("1"));
    const h2 = hash(enc.encode("2"));
    expect(store.update(id, null, h1)).toEqual({ ok: true });
    expect(store.update(id, null, h2)).toEqual({ ok: false, current: h1 });
    expect(store.update(id, h1, h2)).toEqual({ ok: true });
    expect(store.head(id)).toEqual(h2);
    expect(store.update(id, h2, null)).toEqual({ ok: true });
    expect(store.branches()).toEqual([]);
  });
});
