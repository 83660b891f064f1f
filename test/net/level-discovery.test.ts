/**
 * LevelDiscovery alone: sources are in-memory stand-ins whose replies the test releases one by
 * one (no sockets, no timers), so every interleaving below is chosen, not raced.
 */
import { expect, test } from "bun:test";
import type { DownloadSource } from "../../src/net/download-scheduler.ts";
import { BudgetExceededError } from "../../src/net/fetch-budget.ts";
import { LevelDiscovery, type LevelPlan } from "../../src/net/level-discovery.ts";

interface Pending {
  parents: readonly number[];
  answer(): void;
  refuse(err: Error): void;
}

/** A source that knows the children lists of every parent but those in `lacks`. */
class FakeSource implements DownloadSource {
  dropped = false;
  inFlight = 0;
  peak = 0;
  /** Its replies cross a budget (the index hook throws). */
  overBudget = false;
  readonly waiting: Pending[] = [];
  readonly asked: number[][] = [];
  constructor(
    readonly peer: string,
    readonly lacks: ReadonlySet<number> = new Set(),
  ) {}
  /** A parent's list: 32 bytes naming it (the index records who listed it). */
  listOf(parent: number): Uint8Array | null {
    return this.lacks.has(parent) ? null : new Uint8Array(32).fill(parent & 0xff);
  }
}

function level(sources: FakeSource[], frontier: number[], opts: Partial<LevelPlan<FakeSource>> = {}) {
  /** Which source's list each parent holds now. */
  const listedBy = new Map<number, string>();
  const reclaimed = new Set<FakeSource>();
  const book = { held: 0, released: 0, indexed: 0 };
  const plan: LevelPlan<FakeSource> = { frontier, sources, window: opts.window ?? 4, maxBatch: opts.maxBatch ?? 100, signal: opts.signal };
  const d = new LevelDiscovery(plan, {
    request: (source, parents) => {
      source.peak = Math.max(source.peak, source.inFlight);
      source.asked.push([...parents]);
      return new Promise((resolve, reject) => {
        source.waiting.push({
          parents,
          answer: () => {
            const lists = parents.map((p) => source.listOf(p));
            for (const l of lists) if (l) book.held += l.length;
            resolve(lists);
          },
          refuse: reject,
        });
      });
    },
    index: (source, parents, lists) => {
      if (source.overBudget) throw new BudgetExceededError(source.peer, "maxBlobs", 1);
      book.indexed++;
      const lacking: number[] = [];
      parents.forEach((p, i) => {
        if (lists[i]) listedBy.set(p, source.peer);
        else lacking.push(p);
      });
      return lacking;
    },
    release: (n) => {
      book.released += n;
    },
    drop: (source) => {
      source.dropped = true;
      source.inFlight = 0;
    },
    reclaim: () => {
      const parents: number[] = [];
      for (const s of sources) {
        if (!s.dropped || reclaimed.has(s)) continue;
        reclaimed.add(s);
        for (const [p, by] of listedBy) if (by === s.peer) parents.push(p);
        for (const p of parents) listedBy.delete(p);
      }
      return parents;
    },
    exhausted: () => new Error("no source left"),
  });
  const run = d.run();
  run.catch(() => undefined); // looked at through `outcome`
  return { d, run, listedBy, book };
}

/** Lets the promise callbacks of answered requests run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

/** Answers every waiting request until the level ends; throws when it is stuck (running, nothing asked). */
async function drain(sources: FakeSource[], d: LevelDiscovery<FakeSource>) {
  while (d.state === "running") {
    if (!sources.some((s) => s.waiting.length)) throw new Error("the level is stuck: running with no request out");
    for (const s of sources) while (s.waiting.length) s.waiting.shift()!.answer();
    await settle();
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("a level's parents are asked in batches spread over the sources, at most `window` in flight per source", async () => {
  const sources = [new FakeSource("a"), new FakeSource("b")];
  const { d, run, listedBy, book } = level(sources, range(5000), { window: 4, maxBatch: 100 });
  // Before any reply: each source holds a full window, the rest waits.
  expect(sources.map((s) => s.waiting.length)).toEqual([4, 4]);
  expect(d.tasks).toEqual({ queued: 42, inFlight: 8 });
  await drain(sources, d);
  await run;
  expect(d.state).toBe("done");
  expect(listedBy.size).toBe(5000);
  expect(Math.max(...sources.map((s) => s.peak))).toBeLessThanOrEqual(4);
  expect(sources.every((s) => s.asked.length > 0)).toBe(true);
  for (const s of sources) for (const batch of s.asked) expect(batch.length).toBeLessThanOrEqual(100);
  expect(book.released).toBe(book.held);
});

test("a parent a source lacks is asked of another; one no source has stays childless", async () => {
  const a = new FakeSource("a", new Set([3, 7]));
  const b = new FakeSource("b", new Set([7]));
  const { d, run, listedBy } = level([a, b], range(10), { window: 1, maxBatch: 10 });
  // The one batch goes to A (first of the least busy); B is idle until A says it lacks 3 and 7.
  expect([a.waiting.length, b.waiting.length]).toEqual([1, 0]);
  a.waiting.shift()!.answer();
  await settle();
  expect(b.asked).toEqual([[3, 7]]);
  b.waiting.shift()!.answer();
  await settle();
  await run;
  expect(d.state).toBe("done");
  expect(listedBy.get(3)).toBe("b");
  expect(listedBy.has(7)).toBe(false);
  expect(listedBy.size).toBe(9);
  // 7 was never asked of A again: A said it lacks it.
  expect(a.asked).toEqual([range(10)]);
});

test("a source whose request fails is dropped; its requests in flight go to the others", async () => {
  const a = new FakeSource("a");
  const b = new FakeSource("b");
  const { d, run, listedBy } = level([a, b], range(400), { window: 2, maxBatch: 100 });
  expect([a.waiting.length, b.waiting.length]).toEqual([2, 2]);
  const aFirst = a.waiting.map((w) => [...w.parents]);
  a.waiting.shift()!.refuse(new Error("connection reset"));
  await settle();
  expect(a.dropped).toBe(true);
  // A's other request in flight goes to B as well.
  await drain([a, b], d);
  await run;
  expect(listedBy.size).toBe(400);
  for (const batch of aFirst) for (const p of batch) expect(listedBy.get(p)).toBe("b");
  // (A's late reply, answered by the drain, was ignored: every list above is B's.)
});

test("a reply over budget is refused whole; the source is dropped and what it listed before is asked again", async () => {
  const a = new FakeSource("a");
  const b = new FakeSource("b");
  const { d, run, listedBy, book } = level([a, b], range(300), { window: 1, maxBatch: 100 });
  a.waiting.shift()!.answer(); // A's first list is believed for now
  await settle();
  expect([...listedBy.values()].filter((x) => x === "a")).toHaveLength(100);
  a.overBudget = true;
  await drain([a, b], d);
  await run;
  expect(a.dropped).toBe(true);
  expect(listedBy.size).toBe(300);
  expect([...listedBy.values()].every((x) => x === "b")).toBe(true);
  expect(book.released).toBe(book.held); // the refused reply's bytes were released too
});

test("with every source dropped the level fails with the fetch's error; so it does when aborted", async () => {
  const a = new FakeSource("a");
  const first = level([a], range(10));
  a.waiting.shift()!.refuse(new Error("gone"));
  await settle();
  expect(first.d.state).toBe("failed");
  expect(first.run).rejects.toThrow("no source left");

  const b = new FakeSource("b");
  const abort = new AbortController();
  const second = level([b], range(10), { signal: abort.signal });
  abort.abort();
  expect(second.d.state).toBe("failed");
  expect(second.run).rejects.toThrow("no source left");
  // A reply arriving after the end changes nothing.
  b.waiting.shift()!.answer();
  await settle();
  expect(second.listedBy.size).toBe(0);
});

test("an error other than a budget's, while indexing, fails the level", async () => {
  const a = new FakeSource("a");
  const plan = { frontier: range(5), sources: [a], window: 1, maxBatch: 10 };
  const d = new LevelDiscovery(plan, {
    request: () => Promise.resolve([null, null, null, null, null]),
    index: () => {
      throw new Error("disk full");
    },
    release: () => undefined,
    drop: () => undefined,
    reclaim: () => [],
    exhausted: () => new Error("no source left"),
  });
  expect(d.run()).rejects.toThrow("disk full");
  await settle();
  expect(d.state).toBe("failed");
  expect(a.dropped).toBe(false);
});
