/** MissingDag's post-order, and the packed hash list the download reads it as. */
import { expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import { MissingDag } from "../../src/net/missing-dag.ts";

const h = (n: number) => hash(new Uint8Array([n, n >> 8]));

test("the post-order's hashes, packed, read back as the entries' hashes, children first", () => {
  // head → 1, 2; 1 → 3, 4; 2 → 4, 5 (4 is shared); 5 → 6.
  const dag = new MissingDag(h(0));
  const lists: [number, number[]][] = [
    [0, [1, 2]],
    [1, [3, 4]],
    [2, [4, 5]],
    [5, [6]],
  ];
  const entryOf = new Map<number, number>([[0, 0]]);
  for (const [parent, children] of lists) {
    dag.beginChildren(entryOf.get(parent)!, 1);
    for (const c of children) {
      const added = dag.addChild(entryOf.get(parent)!, h(c));
      if (added >= 0) entryOf.set(c, added);
    }
  }
  const entries = dag.postOrder();
  expect(entries.length).toBe(7);
  const order = dag.hashesOf(entries);
  expect(order.length).toBe(7);
  const position = (n: number) => order.slice(0, order.length).findIndex((x) => bytesEqual(x, h(n)));
  for (const [parent, children] of lists) for (const c of children) expect(position(c)).toBeLessThan(position(parent));
  entries.forEach((e, i) => {
    expect(bytesEqual(order.at(i), dag.hashOf(e))).toBe(true);
  });
  // A run of the middle, as the download asks for it; an empty run past the end.
  const run = order.slice(2, 5);
  expect(run.length).toBe(3);
  run.forEach((x, k) => {
    expect(bytesEqual(x, dag.hashOf(entries[2 + k]!))).toBe(true);
  });
  expect(order.slice(7, 7)).toEqual([]);
});
