/** FetchQueue alone: latest item wins per key, one loop per key, retries after injected delays. */
import { describe, expect, test } from "bun:test";
import { FetchQueue } from "../../src/net/node/fetch-queue.ts";
import { NodeLife } from "../../src/net/node/life.ts";
import type { SyncEvent } from "../../src/net/node/types.ts";

/** A promise and its resolver. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Work that records what it was given and waits until the test lets each call finish. */
function gatedWork() {
  const calls: { key: string; item: number; done: () => void }[] = [];
  let arrived = deferred();
  const work = (key: string, item: number) => {
    const gate = deferred();
    calls.push({ key, item, done: () => gate.resolve() });
    arrived.resolve();
    return gate.promise;
  };
  /** Resolves once `n` calls have arrived. */
  const calledTimes = async (n: number) => {
    while (calls.length < n) {
      arrived = deferred();
      await arrived.promise;
    }
  };
  return { calls, work, calledTimes };
}

describe("fetch queue", () => {
  test("one fetch at a time per key; items wanted meanwhile collapse to the latest", async () => {
    const life = new NodeLife(undefined);
    const { calls, work, calledTimes } = gatedWork();
    const q = new FetchQueue<number>(life, work, []);
    q.want("k", 1);
    await calledTimes(1);
    q.want("k", 2);
    q.want("k", 3);
    q.want("other", 9); // another key runs alongside
    await calledTimes(2);
    expect(calls.map((c) => [c.key, c.item])).toEqual([
      ["k", 1],
      ["other", 9],
    ]);
    calls[0]!.done();
    await calledTimes(3);
    expect(calls[2]).toMatchObject({ key: "k", item: 3 }); // 2 was replaced by 3 before it ran
    calls[2]!.done();
    calls[1]!.done();
    life.stop();
  });

  test("retries follow the delays, then stop; a newer item wanted first wins over the retry", async () => {
    const life = new NodeLife(undefined);
    const { calls, work, calledTimes } = gatedWork();
    const q = new FetchQueue<number>(life, work, [0, 0]);
    q.want("k", 1);
    await calledTimes(1);
    expect(q.retryLater("k", 1)).toBe(0);
    calls[0]!.done();
    await calledTimes(2);
    expect(calls[1]!.item).toBe(1);
    expect(q.retryLater("k", 1)).toBe(0);
    calls[1]!.done();
    await calledTimes(3);
    expect(q.retryLater("k", 1)).toBeUndefined(); // used up (and the count starts over)
    expect(q.retryLater("k", 1)).toBe(0);
    q.want("k", 5); // wanted before the retry fires: the retry is skipped
    const fired = deferred();
    setTimeout(() => fired.resolve(), 0); // due after the retry's timer
    await fired.promise;
    calls[2]!.done();
    await calledTimes(4);
    expect(calls[3]!.item).toBe(5);
    calls[3]!.done();
    life.stop();
  });

  test("a success starts the retry count over; forget(prefix) drops items wanted and retry counts", async () => {
    const life = new NodeLife(undefined);
    const { calls, work, calledTimes } = gatedWork();
    // Long delays: these retry timers never fire within the test (they are unref'd, and no-ops after stop).
    const q = new FetchQueue<number>(life, work, [60_000, 120_000]);
    q.want("ab1", 1);
    await calledTimes(1);
    expect(q.retryLater("ab1", 1)).toBe(60_000);
    expect(q.retryLater("ab1", 1)).toBe(120_000);
    q.succeeded("ab1");
    expect(q.retryLater("ab1", 1)).toBe(60_000); // the count started over
    q.want("ab1", 2);
    q.want("abX", 3);
    q.want("zz", 4);
    await calledTimes(3); // abX and zz start at once; ab1's loop is busy with item 1
    q.forget("ab");
    expect(q.retryLater("ab1", 1)).toBe(60_000); // its retry count went too
    calls[0]!.done(); // ab1's loop ends: item 2 was forgotten
    await calledTimes(3);
    q.want("zz", 5);
    for (const c of calls.slice(1)) c.done();
    await calledTimes(4);
    expect(calls.map((c) => [c.key, c.item])).toEqual([
      ["ab1", 1],
      ["abX", 3],
      ["zz", 4],
      ["zz", 5],
    ]);
    calls[3]!.done();
    life.stop();
  });

  test("a throwing work ends that key's loop as one warning; the key runs again when wanted", async () => {
    const events: SyncEvent[] = [];
    const warned = deferred();
    const life = new NodeLife((e) => {
      events.push(e);
      warned.resolve();
    });
    let n = 0;
    const ran = deferred();
    const q = new FetchQueue<number>(life, async (_key, item) => {
      n++;
      if (item === 1) throw new Error("broken\ndetail");
      ran.resolve();
    });
    q.want("k", 1);
    await warned.promise;
    expect(events).toEqual([{ type: "warning", message: "fetching a head failed: broken" }]);
    q.want("k", 2);
    await ran.promise;
    expect(n).toBe(2);
    life.stop();
  });
});
