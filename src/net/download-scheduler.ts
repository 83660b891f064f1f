/**
 * The download step of a fetch (fetch.ts): a post-order list of hashes fetched in batches spread
 * over several sources, at most `window` requests in flight per source and about
 * `maxInFlightBytes` asked for in all, every blob verified, and batches stored strictly front to
 * back, so a stored blob always has its closure stored.
 *
 * Blobs are taken as they arrive, not once a whole reply is in: a large one is verified at once,
 * and the front batch is stored blob by blob, so a reply of many large blobs (a batch sized by
 * small blobs that runs into a large file's chunks) is never held whole.
 *
 * A source that sends bytes not matching their hash, or whose request fails, is dropped and its
 * batches go to the others (what it sent that verified is kept); a blob a source says it lacks is asked of the sources not yet tried
 * for that batch. The run fails with MissingBlobError once the front batch holds a blob every live
 * source lacks, and with `exhausted()` once no source is left or the signal aborts.
 */
import { hashMany } from "../core/blake3.ts";
import { bytesEqual } from "../core/bytes.ts";
import type { Hash } from "../core/store.ts";
import { CHUNK_BYTES } from "../repo/files.ts";
import { BadDataError, MissingBlobError } from "./fetch-errors.ts";
import { RunOnce, type RunState } from "./run-once.ts";

/** One peer taking part, as the scheduler sees it (fetch.ts's Source). */
export interface DownloadSource {
  readonly peer: string;
  /** Set by `DownloadHooks.drop`. */
  readonly dropped: boolean;
  /** Requests awaiting a reply (this scheduler's and the fetch's others). */
  inFlight: number;
}

/** Hashes in order, read a run at a time (an array, or MissingDag's packed post-order). */
export interface HashSequence {
  readonly length: number;
  /** Hashes [from, to) as views (do not mutate). */
  slice(from: number, to: number): Hash[];
}

export interface DownloadPlan<S extends DownloadSource> {
  /** Hashes in post-order (children before parents). */
  order: HashSequence;
  /** Blob i of `order`, when already received and verified: stored in its place, not asked. */
  prefetched: ReadonlyMap<number, Uint8Array>;
  /** Every source of the fetch, dropped ones included (the reorder buffer is sized by their count). */
  sources: readonly S[];
  /** Most hashes per request. */
  batch: number;
  /** Aim for about this many bytes per request. */
  batchBytes: number;
  /** Requests in flight at once, per source. */
  window: number;
  /**
   * Bytes the requests in flight may ask for in all (each request counted as its blobs times the
   * average size seen; one request is always allowed). Replies in flight are what a receiver
   * buffers when it reads more slowly than its peers send: at 8 requests of one 1 MiB chunk each, a
   * receiver of a 400 MiB file peaked at 124-132 MB, at 4 at 116-127 MB.
   */
  maxInFlightBytes: number;
  signal?: AbortSignal | undefined;
}

export interface DownloadHooks<S extends DownloadSource> {
  /**
   * Asks `source` for `hashes`, handing each blob to `onBlob(k, bytes)` as it arrives (k indexes
   * `hashes`; null where the source lacks it); resolves once the reply is complete. A blob's bytes
   * are held until `release`d.
   */
  request(source: S, hashes: Hash[], onBlob: (k: number, blob: Uint8Array | null) => void): Promise<void>;
  /** Drops a source for this fetch (it must then read as `dropped`, with `inFlight` 0). */
  drop(source: S, error: Error): void;
  /** Stores verified blobs; each one's closure is stored already, or among them. */
  store(blobs: Uint8Array[], hashes: readonly Hash[]): void;
  /** Gives back reply bytes (held since `onBlob` had them). */
  release(bytes: number): void;
  /** The error to fail with once no source is left (or the signal aborted). */
  exhausted(): Error;
}

/** A run of consecutive blobs of the post-order, requested together. */
interface Batch<S> {
  hashes: Hash[];
  /** Verified (or prefetched) blobs; STORED once stored, null until received. */
  blobs: (Uint8Array | null)[];
  /** Which of `blobs` came in a reply (their bytes are released when stored; prefetched ones are not ours to release). */
  replied: Uint8Array;
  /** Blobs stored so far: always a prefix (`blobs[0..stored)`). */
  stored: number;
  /** Indices not received yet, as of the last reply (read only while the batch is not busy). */
  missing: number[];
  /** Sources that answered "missing" for some of them. */
  tried: Set<S>;
  busy: S | null;
}

/** What a stored blob's slot holds: its bytes are let go once stored. */
const STORED = new Uint8Array(0);

/** One request's arrivals not verified yet. */
interface Arrivals {
  indices: number[];
  blobs: Uint8Array[];
  bytes: number;
  /** Blobs of this request verified so far, and their bytes (for the size estimate). */
  count: number;
  verifiedBytes: number;
  /** Set once the source sent a bad blob: the rest of its reply is let go. */
  failed: boolean;
}

/**
 * A blob at least this large is verified as soon as it arrives, with the small ones that came
 * before it, and the front batch stores what it can. Small blobs wait for the end of their reply,
 * or for `batchBytes` of them, and are verified together (four to an instruction stream).
 */
const VERIFY_AT_ONCE_BYTES = 64 * 1024;

export type DownloadState = RunState;

/**
 * Until a reply says how large blobs are, they are taken to be this large: a large file's chunks
 * (repo/files.ts CHUNK_BYTES), the largest blobs an honest fetch asks for in bulk. Only one
 * request is in flight in all until then (see `sized`), and it asks for one such blob per
 * `batchBytes`: guessing 64 KiB made it 16 chunks of a large file, 16 MiB in one reply held
 * whole, and the receiver's peak RSS crossed the 128 MB target. Small blobs cost one round trip
 * of a single blob before their batches grow.
 */
const INITIAL_AVG_BLOB_BYTES = CHUNK_BYTES;

export class DownloadScheduler<S extends DownloadSource> {
  private readonly life: RunOnce;
  /** Batches from the oldest unstored one on; they are stored strictly front to back. */
  private readonly pending: Batch<S>[] = [];
  /** Index in `order` of the first hash not yet in a batch. */
  private next = 0;
  private avgSize = INITIAL_AVG_BLOB_BYTES;
  /** Whether a reply has told blob sizes yet (until then one request is in flight in all). */
  private sized = false;
  /** Per live source, the bytes its requests in flight ask for (as estimated when each was issued). */
  private readonly asking = new Map<S, number>();
  /** Most batches held at once: bounds the reorder buffer. */
  readonly maxAhead: number;

  constructor(
    private readonly plan: DownloadPlan<S>,
    private readonly hooks: DownloadHooks<S>,
  ) {
    this.maxAhead = plan.window * Math.max(1, plan.sources.length) * 2;
    this.life = new RunOnce("download", plan.signal, () => hooks.exhausted());
  }

  get state(): DownloadState {
    return this.life.state;
  }

  /** Batches made and not stored yet (at most `maxAhead`). */
  get pendingBatches(): number {
    return this.pending.length;
  }

  /** Downloads and stores the whole plan; once only. */
  run(): Promise<void> {
    return this.life.start(() => this.pump());
  }

  private fail(err: Error): void {
    this.life.end("failed", err);
  }

  private live(): S[] {
    return this.plan.sources.filter((s) => !s.dropped);
  }

  /** The next batch `source` should ask for: an unanswered one it has not tried, else a new one. */
  private pick(source: S): Batch<S> | undefined {
    for (const b of this.pending) if (!b.busy && b.missing.length && !b.tried.has(source)) return b;
    const { order, prefetched } = this.plan;
    if (this.next >= order.length || this.pending.length >= this.maxAhead) return undefined;
    // Size batches by the bytes seen so far (about batchBytes each), so small blobs travel many to
    // a request and large ones few, and storing one batch overlaps with receiving the next.
    const size = Math.max(1, Math.min(this.plan.batch, Math.floor(this.plan.batchBytes / this.avgSize)));
    const from = this.next;
    const hashes = order.slice(from, Math.min(order.length, from + size));
    const blobs = Array.from(hashes, (_, i) => prefetched.get(from + i) ?? null);
    this.next += hashes.length;
    const missing = blobs.flatMap((b, i) => (b ? [] : [i]));
    const batch: Batch<S> = { hashes, blobs, replied: new Uint8Array(hashes.length), stored: 0, missing, tried: new Set(), busy: null };
    this.pending.push(batch);
    return batch;
  }

  /** Drops a source and hands its unanswered batches to the others. */
  private dropSource(source: S, err: unknown): void {
    this.hooks.drop(source, err instanceof Error ? err : new Error(String(err)));
    // Its requests in flight may never settle: what they asked for no longer counts.
    this.asking.delete(source);
    for (const b of this.pending) if (b.busy === source) b.busy = null;
  }

  /** Bytes the requests in flight ask for, all live sources together (a source may be dropped by the fetch too). */
  private get askingBytes(): number {
    let sum = 0;
    for (const [source, bytes] of this.asking) if (!source.dropped) sum += bytes;
    return sum;
  }

  private issue(source: S, batch: Batch<S>, estimate: number): void {
    batch.busy = source;
    source.inFlight++;
    this.asking.set(source, (this.asking.get(source) ?? 0) + estimate);
    const asked = batch.missing.slice();
    const arrivals: Arrivals = { indices: [], blobs: [], bytes: 0, count: 0, verifiedBytes: 0, failed: false };
    const noLongerAsking = () => {
      const left = this.asking.get(source);
      if (left !== undefined) this.asking.set(source, left - estimate);
    };
    const onBlob = (k: number, blob: Uint8Array | null) => this.arrived(source, batch, asked[k]!, blob, arrivals);
    this.hooks.request(source, asked.map((i) => batch.hashes[i]!), onBlob).then(
      () => {
        noLongerAsking();
        this.answered(source, batch, asked, arrivals);
      },
      (err) => {
        noLongerAsking();
        this.letGo(arrivals);
        if (batch.busy === source) batch.missing = batch.missing.filter((i) => !batch.blobs[i]);
        this.dropSource(source, err);
        this.pump();
      },
    );
  }

  /** Whether `source`'s reply for `batch` still counts (the run goes on, the source was not dropped, the batch is still its). */
  private counts(source: S, batch: Batch<S>, arrivals: Arrivals): boolean {
    return !this.life.settled && !source.dropped && !arrivals.failed && batch.busy === source;
  }

  /** Releases arrivals not verified (their reply no longer counts). */
  private letGo(arrivals: Arrivals): void {
    this.hooks.release(arrivals.bytes);
    arrivals.indices = [];
    arrivals.blobs = [];
    arrivals.bytes = 0;
  }

  /** One blob of a reply: kept for verification; a large one verifies at once, and the front batch stores what it can. */
  private arrived(source: S, batch: Batch<S>, index: number, blob: Uint8Array | null, arrivals: Arrivals): void {
    if (!blob) return; // the source lacks it: still missing when the reply is complete
    if (!this.counts(source, batch, arrivals)) {
      this.hooks.release(blob.length);
      return;
    }
    arrivals.indices.push(index);
    arrivals.blobs.push(blob);
    arrivals.bytes += blob.length;
    if (blob.length < VERIFY_AT_ONCE_BYTES && arrivals.bytes < this.plan.batchBytes) return;
    if (!this.verify(source, batch, arrivals)) return;
    if (batch === this.pending[0]) this.storeOrFail();
  }

  /**
   * Verifies the arrivals kept so far and places them in the batch; a blob not matching its hash
   * drops the source (false), and the rest of its reply is let go.
   */
  private verify(source: S, batch: Batch<S>, arrivals: Arrivals): boolean {
    if (arrivals.blobs.length === 0) return true;
    const { indices, blobs } = arrivals;
    const digests = hashMany(blobs);
    const bad = indices.findIndex((index, k) => !bytesEqual(digests[k]!, batch.hashes[index]!));
    if (bad >= 0) {
      const error = new BadDataError(source.peer, batch.hashes[indices[bad]!]!);
      this.letGo(arrivals);
      arrivals.failed = true;
      batch.missing = batch.missing.filter((i) => !batch.blobs[i]);
      this.dropSource(source, error);
      queueMicrotask(() => this.pump());
      return false;
    }
    indices.forEach((index, k) => {
      batch.blobs[index] = blobs[k]!;
      batch.replied[index] = 1;
      arrivals.verifiedBytes += blobs[k]!.length;
    });
    arrivals.count += indices.length;
    arrivals.indices = [];
    arrivals.blobs = [];
    arrivals.bytes = 0;
    return true;
  }

  /** A complete reply: the rest verified, what is still missing noted, the size estimate updated. */
  private answered(source: S, batch: Batch<S>, asked: number[], arrivals: Arrivals): void {
    if (!this.counts(source, batch, arrivals)) {
      this.letGo(arrivals);
      return; // the batch was handed on when the source was dropped
    }
    source.inFlight--;
    if (!this.verify(source, batch, arrivals)) return;
    batch.busy = null;
    if (arrivals.count) {
      this.avgSize = Math.max(64, arrivals.verifiedBytes / arrivals.count);
      this.sized = true;
    }
    batch.missing = asked.filter((i) => !batch.blobs[i]);
    if (batch.missing.length) batch.tried.add(source);
    if (this.storeOrFail()) this.pump();
  }

  /** `storeReady`, failing the run if storing throws; false then. */
  private storeOrFail(): boolean {
    try {
      this.storeReady();
      return true;
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  /**
   * Stores what is ready from the front of the post-order: the front batch's blobs up to its first
   * one not received (a reply still arriving included), then the next batch once the front one is
   * stored whole and answered. A stored blob thus always has its closure stored.
   */
  private storeReady(): void {
    for (;;) {
      const batch = this.pending[0];
      if (!batch) return;
      let end = batch.stored;
      while (end < batch.hashes.length && batch.blobs[end]) end++;
      if (end > batch.stored) {
        const blobs = batch.blobs.slice(batch.stored, end) as Uint8Array[];
        let replyBytes = 0;
        for (let i = batch.stored; i < end; i++) if (batch.replied[i]) replyBytes += batch.blobs[i]!.length;
        this.hooks.store(blobs, batch.hashes.slice(batch.stored, end));
        this.hooks.release(replyBytes);
        batch.blobs.fill(STORED, batch.stored, end);
        batch.stored = end;
      }
      if (batch.busy || batch.stored < batch.hashes.length) return;
      this.pending.shift();
    }
  }

  /**
   * Issues requests while a source has room in its window and the bytes in flight stay within
   * `maxInFlightBytes`, the least busy source first (so sources share that bound); until a reply
   * has told blob sizes, only one request is in flight in all.
   */
  private fill(live: S[]): void {
    for (;;) {
      if (!this.sized && live.some((s) => s.inFlight > 0)) return;
      let progressed = false;
      for (const source of [...live].sort((a, b) => a.inFlight - b.inFlight)) {
        if (source.inFlight >= this.plan.window) continue;
        const batch = this.pick(source);
        if (!batch) continue;
        progressed = true;
        if (batch.missing.length === 0) break; // prefetched whole: stored by the caller
        const estimate = batch.missing.length * this.avgSize;
        const asking = this.askingBytes;
        // Left pending (picked again later) when it does not fit.
        if (asking > 0 && asking + estimate > this.plan.maxInFlightBytes) return;
        this.issue(source, batch, estimate);
        break;
      }
      if (!progressed) return;
    }
  }

  /** Fills every live source's window, stores what is ready, and ends the run when nothing is left to do. */
  private pump(): void {
    let live: S[];
    for (;;) {
      if (this.life.settled) return;
      if (this.pending.length === 0 && this.next >= this.plan.order.length) {
        this.life.end("done");
        return;
      }
      live = this.live();
      if (this.plan.signal?.aborted || live.length === 0) {
        this.fail(this.hooks.exhausted());
        return;
      }
      this.fill(live);
      // Batches prefetched whole are stored here; storing may make room for more batches.
      const before = this.pending.length;
      if (!this.storeOrFail()) return;
      if (this.pending.length === before) break;
    }
    // Nothing in flight yet work remains: the front batch holds blobs every live source lacks.
    if (live.every((s) => s.inFlight === 0)) {
      const front = this.pending[0]!;
      const peers = live.length === 1 ? `peer ${live[0]!.peer}` : `none of ${live.length} peers`;
      this.fail(new MissingBlobError(peers, front.hashes[front.missing[0]!]!.slice()));
    }
  }
}
