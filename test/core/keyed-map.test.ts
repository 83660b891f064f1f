import { expect, test } from "bun:test";
import { KeyedMap } from "../../src/core/keyed-map.ts";

const key = (n: number) => {
  const k = new Uint8Array(32);
  new DataView(k.buffer).setUint32(28, n);
  return k;
};

test("KeyedMap finds, replaces and deletes by key bytes, and forgets the oldest past its capacity", () => {
  const map = new KeyedMap<number>(3);
  for (let i = 0; i < 5; i++) map.set(key(i), i);
  expect(map.size).toBe(3);
  expect(map.get(key(0))).toBeUndefined();
  expect(map.get(key(1))).toBeUndefined();
  expect([...map.entries()].map(([, v]) => v)).toEqual([2, 3, 4]);
  map.set(key(2), 20); // replacing keeps the entry's place
  map.set(key(5), 5);
  expect(map.has(key(2))).toBe(false);
  expect(map.get(key(3))).toBe(3);
  expect(map.delete(key(3))).toBe(true);
  expect(map.delete(key(3))).toBe(false);
  expect(map.size).toBe(2);
  // The key is copied: changing the caller's array later does not move the entry.
  const mine = key(9);
  map.set(mine, 9);
  mine[0] = 1;
  expect(map.get(key(9))).toBe(9);
  expect(() => map.get(new Uint8Array(16))).toThrow("32 bytes");
});

test("KeyedMap: keys sharing every byte but the last few still each find their own entry", () => {
  const map = new KeyedMap<number>();
  for (let i = 0; i < 65_536; i++) map.set(key(i), i);
  for (let i = 0; i < 65_536; i += 4099) expect(map.get(key(i))).toBe(i);
  expect(map.size).toBe(65_536);
});
