/**
 * DownloadScheduler alone: sources are in-memory stand-ins whose replies the test releases one by
 * one (no sockets, no timers), so every interleaving below is chosen, not raced.
 */
import { describe, expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual, toHex } from "../../src/core/bytes.ts";
import type { Hash } from "../../src/core/store.ts";
import { type DownloadPlan, DownloadScheduler, type DownloadSource } from "../../src/net/download-scheduler.ts";
import { BadDataError, MissingBlobError } from "../../src/net/fetch-errors.ts";

/** `n` distinct blobs of `size` bytes and their hashes (the order stands for a post-order). */
function blobs(n: number, size = 100): { bytes: Uint8Array[]; order: Hash[] } {
  const bytes = Array.from({ length: n }, (_, i) => {
    const b = new Uint8Array(size);
    new DataView(b.buffer).setUint32(0, i + 1);
    return b;
  });
  return { bytes, order: bytes.map((b) => hash(b)) };
}

interface Pending {
  hashes: Hash[];
  /** Sends the blobs of `reply` not sent yet, then ends the reply. */
  answer(reply: (Uint8Array | null)[]): void;
  /** Sends the next `n` blobs of `reply` without ending the reply. */
  send(reply: (Uint8Array | null)[], n: number): void;
  refuse(err: Error): void;
}

/** A source holding some blobs; its requests wait in `waiting` until the test answers them. */
class FakeSource implements DownloadSource {
  dropped = false;
  inFlight = 0;
  /** Most requests it had in flight at once. */
  peak = 0;
  readonly waiting: Pending[] = [];
  readonly asked: Hash[][] = [];
  error: Error | undefined;

  constructor(
    readonly peer: string,
    readonly holds: Map<string, Uint8Array>,
  ) {}

  /** The reply an honest holder gives to a request. */
  honest(hashes: Hash[]): (Uint8Array | null)[] {
    return hashes.map((h) => this.holds.get(toHex(h)) ?? null);
  }

  /** Answers its oldest waiting request honestly (or with `reply`). */
  answerNext(reply?: (hashes: Hash[]) => (Uint8Array | null)[]): void {
    const next = this.waiting.shift();
    if (!next) throw new Error(`${this.peer} has no request waiting`);
    next.answer((reply ?? ((h) => this.honest(h)))(next.hashes));
  }
}

function holding(peer: string, all: { bytes: Uint8Array[]; order: Hash[] }, except: number[] = []): FakeSource {
  const holds = new Map<string, Uint8Array>();
  all.order.forEach((h, i) => {
    if (!except.includes(i)) holds.set(toHex(h), all.bytes[i]!);
  });
  return new FakeSource(peer, holds);
}

/** A scheduler over `sources` with recording hooks; `store` may throw to play a failing store. */
function scheduler(sources: FakeSource[], order: Hash[], opts: Partial<DownloadPlan<FakeSource>> & { storeFails?: boolean } = {}) {
  const stored: Hash[] = [];
  const storedBytes: Uint8Array[] = [];
  const book = { held: 0, released: 0 };
  const plan: DownloadPlan<FakeSource> = {
    order,
    prefetched: opts.prefetched ?? new Map(),
    sources,
    batch: opts.batch ?? 1024,
    batchBytes: opts.batchBytes ?? 1 << 20,
    window: opts.window ?? 8,
    maxInFlightBytes: opts.maxInFlightBytes ?? 64 << 20,
    signal: opts.signal,
  };
  const s = new DownloadScheduler(plan, {
    request: (source, hashes, onBlob) => {
      source.peak = Math.max(source.peak, source.inFlight);
      source.asked.push(hashes);
      return new Promise((resolve, reject) => {
        let sent = 0;
        const send = (reply: (Uint8Array | null)[], n: number) => {
          for (const end = Math.min(reply.length, sent + n); sent < end; sent++) {
            const b = reply[sent] ?? null;
            if (b) book.held += b.length;
            onBlob(sent, b);
          }
        };
        source.waiting.push({
          hashes,
          send,
          answer: (reply) => {
            send(reply, reply.length);
            resolve();
          },
          refuse: reject,
        });
      });
    },
    drop: (source, error) => {
      source.dropped = true;
      source.inFlight = 0;
      source.error = error;
    },
    store: (bs, hs) => {
      if (opts.storeFails) throw new Error("disk full");
      storedBytes.push(...bs);
      stored.push(...hs);
    },
    release: (n) => {
      book.released += n;
    },
    exhausted: () => new Error("no source left"),
  });
  return { s, stored, storedBytes, book };
}

/** Lets the promise callbacks of answered requests run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

/**
 * Answers every waiting request of every source (honestly unless `reply` is given) until the run
 * ends; throws when a round leaves no request waiting and the run still going (it is stuck).
 */
async function drain(sources: FakeSource[], s: DownloadScheduler<FakeSource>, reply?: (s: FakeSource, hashes: Hash[]) => (Uint8Array | null)[]) {
  await settle();
  while (s.state === "running") {
    if (!sources.some((src) => src.waiting.length)) throw new Error("the download is stuck: running with no request out");
    for (const src of sources) while (src.waiting.length) src.answerNext(reply ? (h) => reply(src, h) : undefined);
    await settle();
  }
}

/** Starts the run; its failure is looked at later (through `outcome`), so it is marked handled now. */
function start(s: DownloadScheduler<FakeSource>): Promise<void> {
  const run = s.run();
  run.catch(() => undefined);
  return run;
}

/** The run's outcome, once it has settled (never waits on a run still going: that would hang the test). */
function outcome(s: DownloadScheduler<FakeSource>, run: Promise<void>): Promise<void> {
  if (s.state === "running" || s.state === "idle") throw new Error(`the download is still ${s.state}`);
  return run;
}

/** Answers the one request a run starts with (blob sizes unknown); the windows fill after it. */
async function sized(first: FakeSource): Promise<void> {
  expect(first.waiting.length).toBe(1);
  first.answerNext();
  await settle();
}

const same = (a: Hash[], b: Hash[]) => a.length === b.length && a.every((h, i) => bytesEqual(h, b[i]!));

describe("download scheduler", () => {
  test("goes idle → running → done, stores everything in post-order, and releases every byte it held", async () => {
    const all = blobs(300);
    const a = holding("A", all);
    const { s, stored, storedBytes, book } = scheduler([a], all.order, { batchBytes: 64 * 1024 * 8 });
    expect(s.state).toBe("idle");
    const run = start(s);
    expect(s.state).toBe("running");
    await drain([a], s);
    await outcome(s, run);
    expect(s.state).toBe("done");
    expect(same(stored, all.order)).toBe(true);
    for (const [i, b] of storedBytes.entries()) expect(bytesEqual(hash(b), all.order[i]!)).toBe(true);
    expect(book.held).toBe(300 * 100);
    expect(book.released).toBe(book.held);
    expect(() => s.run()).toThrow("already done");
  });

  test("replies arriving out of order are still stored front to back", async () => {
    const all = blobs(12);
    const a = holding("A", all);
    // One blob per batch (64 KiB target over the 64 KiB first guess), eight in flight.
    const { s, stored } = scheduler([a], all.order, { batchBytes: 64 * 1024, batch: 1 });
    const run = start(s);
    await sized(a);
    expect(a.waiting.length).toBe(8);
    // Answer the newest first: nothing more may be stored until the front batch is in.
    while (a.waiting.length > 1) {
      const last = a.waiting.pop()!;
      last.answer(a.honest(last.hashes));
    }
    await settle();
    expect(stored.length).toBe(1);
    await drain([a], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
  });

  test("never has more than `window` requests in flight per source, nor more than maxAhead batches", async () => {
    const all = blobs(200);
    const a = holding("A", all);
    const b = holding("B", all);
    const { s, stored } = scheduler([a, b], all.order, { window: 3, batch: 1, batchBytes: 64 * 1024 });
    const run = start(s);
    await sized(a);
    expect(a.waiting.length).toBe(3);
    expect(b.waiting.length).toBe(3);
    let peakPending = 0;
    // Answer only B: A's three batches hold the front, so the reorder buffer fills up to maxAhead.
    for (let i = 0; i < 50; i++) {
      if (b.waiting.length) b.answerNext();
      await settle();
      peakPending = Math.max(peakPending, s.pendingBatches);
    }
    expect(s.maxAhead).toBe(3 * 2 * 2);
    expect(peakPending).toBe(s.maxAhead);
    await drain([a, b], s);
    await outcome(s, run);
    expect(a.peak).toBeLessThanOrEqual(3);
    expect(b.peak).toBeLessThanOrEqual(3);
    expect(a.peak).toBe(3);
    expect(same(stored, all.order)).toBe(true);
  });

  test("parallel sources share the work", async () => {
    const all = blobs(64);
    const sources = ["A", "B", "C"].map((p) => holding(p, all));
    const { s, stored } = scheduler(sources, all.order, { batch: 4, window: 2 });
    const run = start(s);
    await drain(sources, s);
    await outcome(s, run);
    for (const src of sources) expect(src.asked.length).toBeGreaterThan(0);
    const asked = sources.flatMap((src) => src.asked.flat());
    expect(asked.length).toBe(64); // each blob asked once
    expect(same(stored, all.order)).toBe(true);
  });

  test("a blob one source lacks is asked of another, and only of one that has not said it lacks it", async () => {
    const all = blobs(10);
    const a = holding("A", all, [3]);
    const b = holding("B", all);
    const { s, stored } = scheduler([a, b], all.order, { batch: 9, window: 1 });
    const run = start(s);
    await sized(a); // blob 0 alone, at the first guess of 1 MiB per blob
    // One batch of the other 9 goes to A (B finds nothing new to ask: the only batch is busy).
    expect(a.waiting.length).toBe(1);
    expect(b.waiting.length).toBe(0);
    a.answerNext();
    await settle();
    // The retry of blob 3 goes to B, never back to A.
    expect(b.asked.length).toBe(1);
    expect(same(b.asked[0]!, [all.order[3]!])).toBe(true);
    expect(a.asked.length).toBe(2);
    await drain([a, b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
    expect(a.dropped || b.dropped).toBe(false);
  });

  test("a blob every live source lacks fails the run with MissingBlobError", async () => {
    const all = blobs(6);
    const a = holding("A", all, [2]);
    const b = holding("B", all, [2]);
    const { s, stored } = scheduler([a, b], all.order, { batch: 6, window: 1 });
    const run = start(s);
    await drain([a, b], s);
    const err = await outcome(s, run).catch((e) => e);
    expect(err).toBeInstanceOf(MissingBlobError);
    expect(err.message).toContain("none of 2 peers");
    expect(bytesEqual(err.hash, all.order[2]!)).toBe(true);
    expect(s.state).toBe("failed");
    // Everything before blob 2 is stored (a prefix of the post-order), nothing from it on.
    expect(same(stored, all.order.slice(0, 2))).toBe(true);
  });

  test("a source sending bytes that do not match is dropped; its batch goes to the others and none of its bytes is stored", async () => {
    const all = blobs(20);
    const liar = holding("L", all);
    const b = holding("B", all);
    const { s, stored, storedBytes, book } = scheduler([liar, b], all.order, { batch: 5, window: 1 });
    const run = start(s);
    const forged = new Uint8Array(100).fill(7);
    liar.answerNext((h) => h.map(() => forged));
    await drain([liar, b], s);
    await outcome(s, run);
    expect(liar.dropped).toBe(true);
    expect(liar.error).toBeInstanceOf(BadDataError);
    expect(b.dropped).toBe(false);
    expect(same(stored, all.order)).toBe(true);
    expect(storedBytes.some((x) => bytesEqual(x, forged))).toBe(false);
    expect(book.released).toBe(book.held);
  });

  test("a failed request drops its source and hands its batches on", async () => {
    const all = blobs(20);
    const a = holding("A", all);
    const b = holding("B", all);
    const { s, stored, book } = scheduler([a, b], all.order, { batch: 5, window: 2 });
    const run = start(s);
    await sized(a);
    expect(a.waiting.length).toBe(2);
    const broken = new Error("stream reset");
    a.waiting.shift()!.refuse(broken);
    await settle();
    expect(a.dropped).toBe(true);
    expect(a.error).toBe(broken);
    // A's other request answers late: it is ignored (the batch was handed on), its bytes given back.
    a.answerNext();
    await settle();
    expect(a.inFlight).toBe(0);
    expect(book.released).toBe(book.held);
    await drain([b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
  });

  test("once no source is left, the run fails with the fetch's own error", async () => {
    const all = blobs(4);
    const a = holding("A", all);
    const { s } = scheduler([a], all.order);
    const run = start(s);
    a.waiting.shift()!.refuse(new Error("gone"));
    await settle();
    await expect(outcome(s, run)).rejects.toThrow("no source left");
    expect(s.state).toBe("failed");
  });

  test("an abort ends the run at once", async () => {
    const all = blobs(4);
    const a = holding("A", all);
    const ctl = new AbortController();
    const { s, stored } = scheduler([a], all.order, { signal: ctl.signal });
    const run = start(s);
    ctl.abort();
    await expect(outcome(s, run)).rejects.toThrow("no source left");
    a.answerNext(); // a late reply changes nothing
    await settle();
    expect(stored.length).toBe(0);
    expect(s.state).toBe("failed");
  });

  test("a store that throws fails the run", async () => {
    const all = blobs(4);
    const a = holding("A", all);
    const { s } = scheduler([a], all.order, { storeFails: true });
    const run = start(s);
    await drain([a], s);
    await expect(outcome(s, run)).rejects.toThrow("disk full");
    expect(s.state).toBe("failed");
  });

  test("prefetched blobs are stored in their place and never asked", async () => {
    const all = blobs(10);
    const a = holding("A", all);
    const prefetched = new Map(all.bytes.flatMap((b, i) => (i % 3 === 0 ? [[i, b] as const] : [])));
    const { s, stored } = scheduler([a], all.order, { prefetched, batch: 4 });
    const run = start(s);
    await drain([a], s);
    await outcome(s, run);
    const asked = a.asked.flat();
    expect(asked.length).toBe(6);
    for (const h of asked) expect(all.order.findIndex((o) => bytesEqual(o, h)) % 3).not.toBe(0);
    expect(same(stored, all.order)).toBe(true);

    // All of it prefetched: no request at all.
    const whole = scheduler([holding("B", all)], all.order, { prefetched: new Map(all.bytes.map((b, i) => [i, b])) });
    const wholeRun = start(whole.s);
    await outcome(whole.s, wholeRun);
    expect(same(whole.stored, all.order)).toBe(true);
  });

  test("batches are sized by the blob sizes seen: small first, then up to `batch`", async () => {
    const all = blobs(400, 64);
    const a = holding("A", all);
    const { s } = scheduler([a], all.order, { batchBytes: 4 * 64 * 1024, batch: 50, window: 1 });
    const run = start(s);
    await drain([a], s);
    await outcome(s, run);
    expect(a.asked[0]!.length).toBe(1); // 256 KiB at the first guess of 1 MiB per blob
    expect(a.asked[1]!.length).toBe(50); // 64-byte blobs seen: capped by `batch`
  });

  test("until a reply tells blob sizes one request is out in all; then each source's window fills", async () => {
    const all = blobs(100, 1 << 20);
    const [a, b] = [holding("A", all), holding("B", all)];
    const { s, stored } = scheduler([a, b], all.order, { window: 4 });
    const run = start(s);
    await settle();
    // One blob at the first guess of 1 MiB each: 1 MiB asked, and nothing more until it is in.
    expect(a.asked.map((h) => h.length)).toEqual([1]);
    expect(b.asked.length).toBe(0);
    a.answerNext();
    await settle();
    // 1 MiB blobs seen: one per request, four in flight per source.
    expect(a.waiting.map((p) => p.hashes.length)).toEqual([1, 1, 1, 1]);
    expect(b.waiting.map((p) => p.hashes.length)).toEqual([1, 1, 1, 1]);
    await drain([a, b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
  });

  test("the requests in flight ask for at most maxInFlightBytes in all, shared by the sources", async () => {
    const all = blobs(40, 1 << 20);
    const [a, b] = [holding("A", all), holding("B", all)];
    const { s, stored } = scheduler([a, b], all.order, { window: 8, maxInFlightBytes: 4 << 20 });
    const run = start(s);
    await sized(a);
    // 1 MiB blobs, one per request: four requests in flight, two per source, though each window holds 8.
    expect(a.waiting.length + b.waiting.length).toBe(4);
    expect(a.waiting.length).toBe(2);
    expect(b.waiting.length).toBe(2);
    // Each reply makes room for one more request, to the source that answered.
    a.answerNext();
    await settle();
    expect(a.waiting.length + b.waiting.length).toBe(4);
    let peak = 0;
    while (s.state === "running") {
      peak = Math.max(peak, a.waiting.length + b.waiting.length);
      for (const src of [a, b]) if (src.waiting.length) src.answerNext();
      await settle();
    }
    await outcome(s, run);
    expect(peak).toBe(4);
    expect(same(stored, all.order)).toBe(true);
  });

  test("a source dropped with requests in flight gives its share of maxInFlightBytes to the others", async () => {
    const all = blobs(12, 1 << 20);
    const [a, b] = [holding("A", all), holding("B", all)];
    const { s, stored } = scheduler([a, b], all.order, { window: 8, maxInFlightBytes: 3 << 20 });
    const run = start(s);
    await sized(a);
    expect(a.waiting.length).toBe(2);
    expect(b.waiting.length).toBe(1);
    // One of A's requests fails: A is dropped, and its other one never settles (a peer gone
    // silent). B takes over A's batches and may ask for the whole 3 MiB.
    a.waiting.shift()!.refuse(new Error("stream reset"));
    await settle();
    expect(a.dropped).toBe(true);
    expect(b.waiting.length).toBe(3);
    await drain([b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
  });

  test("a reply of large blobs is verified and stored blob by blob as it arrives, not held whole", async () => {
    const all = blobs(21, 100 << 10);
    all.bytes[0] = new Uint8Array(10).fill(5); // a small blob first: the next batch is sized by it
    all.order[0] = hash(all.bytes[0]);
    const a = holding("A", all);
    const { s, stored, book } = scheduler([a], all.order, { batchBytes: 64 << 10, batch: 64 });
    const run = start(s);
    await sized(a);
    // Sized by a 10-byte blob: the other 20 blobs of 100 KiB, 2 MB, go in one request.
    expect(a.waiting.map((p) => p.hashes.length)).toEqual([20]);
    const reply = a.honest(a.waiting[0]!.hashes);
    for (let n = 1; n <= 20; n++) {
      a.waiting[0]!.send(reply, 1);
      // Each blob is stored (and its bytes given back) as it comes.
      expect(stored.length).toBe(1 + n);
      expect(book.held - book.released).toBe(0);
    }
    a.answerNext();
    await settle();
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
  });

  test("a source that sends a bad blob mid-reply is dropped; what it sent that verified is kept, the rest asked of another", async () => {
    const all = blobs(11, 100 << 10);
    const [liar, b] = [holding("L", all), holding("B", all)];
    const { s, stored, book } = scheduler([liar, b], all.order, { window: 1 });
    const run = start(s);
    await sized(liar);
    const pending = liar.waiting[0]!;
    const reply = liar.honest(pending.hashes);
    reply[4] = new Uint8Array(100 << 10).fill(7);
    pending.send(reply, 5);
    await settle();
    expect(liar.dropped).toBe(true);
    expect(liar.error).toBeInstanceOf(BadDataError);
    expect(stored.length).toBe(1 + 4);
    // B is asked only for what the liar did not deliver.
    expect(b.asked.flat().length).toBe(6);
    await drain([b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
    expect(book.released).toBe(book.held);
  });

  test("a reply cut off mid-way keeps what arrived; only the rest is asked again", async () => {
    const all = blobs(11, 100 << 10);
    const [a, b] = [holding("A", all), holding("B", all)];
    const { s, stored, book } = scheduler([a, b], all.order, { window: 1 });
    const run = start(s);
    await sized(a);
    const pending = a.waiting.shift()!;
    pending.send(a.honest(pending.hashes), 3);
    pending.refuse(new Error("stream reset"));
    await settle();
    expect(a.dropped).toBe(true);
    expect(stored.length).toBe(1 + 3);
    expect(b.asked.flat().length).toBe(7);
    await drain([b], s);
    await outcome(s, run);
    expect(same(stored, all.order)).toBe(true);
    expect(book.released).toBe(book.held);
  });
});
