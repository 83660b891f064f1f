/**
 * Byte-exact reading and back-pressured writing on libp2p streams. Streams deliver chunks of any
 * size; protocol code wants "exactly n bytes" with every length bounded before it is trusted.
 */
import type { Stream } from "@libp2p/interface";
import { noteTransient } from "../core/gc-pacer.ts";

type Chunk = Uint8Array | { subarray(): Uint8Array };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** A read waited longer than its timeout: the peer stalled (mid-frame, or sent nothing at all). */
export class StreamTimeoutError extends ProtocolError {
  constructor(message: string) {
    super(message);
    this.name = "StreamTimeoutError";
  }
}

export interface ReadTimeouts {
  /**
   * A read that has waited this long with no byte arriving fails with StreamTimeoutError: the
   * peer stalled in the middle of a frame. Unlimited when absent.
   */
  progressMs?: number;
  /** How long `atEnd` (waiting for the next frame) may wait with no byte arriving; unlimited when absent. */
  idleMs?: number;
  /**
   * Bytes that may arrive ahead of what is read before the stream is paused (its transport stops
   * granting the sender window, see `BoundedSource`). Unbounded when absent, or when the stream's
   * transport cannot pause its sender (`pausesSender`).
   */
  maxUnread?: number;
}

/** A libp2p stream's reading side, as BoundedSource uses it. */
type PausableStream = AsyncIterable<Chunk> &
  Pick<Stream, "pause" | "resume" | "readStatus" | "addEventListener" | "removeEventListener">;

/** Marks a stream class whose `pause()` stops its sender (yamux: no window updates; QUIC: see quic.ts). */
export const PAUSES_SENDER = Symbol.for("tribles.pausesSender");

/** Whether pausing `stream` holds back its sender (instead of buffering what it goes on sending). */
export function pausesSender(stream: unknown): stream is PausableStream {
  const s = stream as { pause?: unknown; [PAUSES_SENDER]?: boolean } | null;
  return typeof s?.pause === "function" && s[PAUSES_SENDER] === true;
}

/**
 * A stream's chunks as they arrive, pausing the stream while `maxUnread` bytes or more wait to be
 * read. The libp2p stream's own async iterator queues every message it is given, and its
 * transport grants window as data arrives whether or not anyone reads it, so a peer sending
 * requests faster than we answer them made us buffer without end. Paused, yamux sends no window
 * updates and QUIC stops reading its native stream: the sender can get at most one window ahead.
 */
export class BoundedSource implements AsyncIterator<Chunk> {
  private readonly queue: Chunk[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onMessage = (evt: Event) => {
    const data = (evt as Event & { data: Chunk }).data;
    this.queue.push(data);
    this.queued += chunkLength(data);
    if (this.queued >= this.maxUnread && this.stream.readStatus === "readable") this.stream.pause();
    this.notify();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };
  private readonly onClose = (evt: Event) => {
    const error = (evt as Event & { error?: Error }).error;
    if (error) this.failure ??= error;
    this.ended = true;
    this.notify();
  };

  constructor(
    private readonly stream: PausableStream,
    private readonly maxUnread: number,
  ) {
    stream.addEventListener("message", this.onMessage);
    stream.addEventListener("end", this.onEnd);
    stream.addEventListener("close", this.onClose);
  }

  /** Bytes received and not yet handed to the reader. */
  get unread(): number {
    return this.queued;
  }

  async next(): Promise<IteratorResult<Chunk>> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queued -= chunkLength(chunk);
        if (this.queued < this.maxUnread && this.stream.readStatus === "paused") this.stream.resume();
        return { done: false, value: chunk };
      }
      if (this.failure && this.queue.length === 0) throw this.failure;
      if (this.ended) {
        this.detach();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<Chunk>> {
    this.detach();
    return { done: true, value: undefined };
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private detach(): void {
    this.stream.removeEventListener("message", this.onMessage);
    this.stream.removeEventListener("end", this.onEnd);
    this.stream.removeEventListener("close", this.onClose);
  }
}

/** The bytes of a chunk: a list of buffers piece by piece (its subarray() would concatenate first: two copies). */
function piecesOf(chunk: Chunk): Uint8Array[] {
  const value = chunk as Chunk & { bufs?: Uint8Array[] };
  return value instanceof Uint8Array ? [value] : Array.isArray(value.bufs) ? value.bufs : [value.subarray()];
}

/** Reads of at least this many bytes not yet buffered are copied straight into their buffer (see `readInto`). */
const DIRECT_READ_MIN = 64 * 1024;

const chunkLength = (chunk: Chunk) => (chunk instanceof Uint8Array ? chunk.length : (chunk as unknown as { byteLength: number }).byteLength);

/**
 * Reads exact byte counts from a stream; `readExactly` throws ProtocolError on early end. With
 * timeouts, a peer that stops sending (or trickles a frame, see `deadline`) fails the read instead
 * of holding the stream and its buffers forever.
 */
export class StreamReader {
  private readonly source: AsyncIterator<Chunk>;
  /** performance.now() by which the current frame must be complete (see `deadline`). */
  private frameDeadline: number | undefined;
  private chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed: reads advance it instead of re-slicing the chunk. */
  private pos = 0;
  private buffered = 0;
  private ended = false;

  constructor(
    stream: AsyncIterable<Chunk>,
    private readonly timeouts: ReadTimeouts = {},
  ) {
    this.source = timeouts.maxUnread !== undefined && pausesSender(stream) ? new BoundedSource(stream, timeouts.maxUnread) : stream[Symbol.asyncIterator]();
  }

  /** Bytes received and kept for reads to come (a large read in progress copies its bytes straight into its buffer). */
  get unread(): number {
    return this.buffered;
  }

  /**
   * Bounds the time the frame being read may take as a whole, `ms` from now (undefined: no bound):
   * a progress timeout alone lets a peer trickle one byte a second forever.
   */
  deadline(ms: number | undefined): void {
    this.frameDeadline = ms === undefined ? undefined : performance.now() + ms;
  }

  /** True when the remote closed its side and every byte was consumed. */
  async atEnd(): Promise<boolean> {
    if (this.buffered > 0) return false;
    await this.fill(1, true);
    return this.buffered === 0;
  }

  /** The next chunk, failing once the applicable timeout passes with nothing arriving. */
  private next(idle: boolean): Promise<IteratorResult<Chunk>> {
    const limit = idle ? this.timeouts.idleMs : this.timeouts.progressMs;
    const left = this.frameDeadline === undefined ? undefined : this.frameDeadline - performance.now();
    const wait = limit === undefined ? left : left === undefined ? limit : Math.min(limit, left);
    if (wait === undefined) return this.source.next();
    const why =
      left !== undefined && left <= (limit ?? Infinity)
        ? "frame not complete in time"
        : `no bytes for ${((limit ?? 0) / 1000).toFixed(1)} s ${idle ? "between frames" : "in the middle of a frame"}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamTimeoutError(`peer stalled: ${why}`)), Math.max(0, wait));
    });
    return Promise.race([this.source.next(), expired]).finally(() => clearTimeout(timer));
  }

  private async fill(n: number, idle = false): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const next = await this.next(idle && this.buffered === 0);
      if (next.done) {
        this.ended = true;
        break;
      }
      for (const piece of piecesOf(next.value)) this.keep(piece);
    }
  }

  /**
   * Keeps a copy of `piece` (unread bytes): transports hand out Node Buffers from pools they reuse
   * once we yield (and Buffer#slice is a view, not a copy), while we keep chunks across awaits.
   */
  private keep(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.chunks.push(new Uint8Array(piece));
    this.buffered += piece.length;
  }

  /**
   * Exactly `n` bytes read straight into one buffer: what is buffered is moved in, and pieces
   * arriving are copied into it as they come, not kept as chunks and copied again (a large blob's
   * bytes were copied into chunks, then into the blob: a second 1 MiB of garbage per 1 MiB chunk
   * a receiver got).
   */
  private async readInto(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(this.pos ? chunk.subarray(this.pos) : chunk, at);
      at += chunk.length - this.pos;
      this.pos = 0;
    }
    this.chunks = [];
    this.buffered = 0;
    while (at < n) {
      const next = this.ended ? undefined : await this.next(false);
      if (!next || next.done) {
        this.ended = true;
        throw new ProtocolError(`stream ended: wanted ${n} bytes, got ${at}`);
      }
      for (const piece of piecesOf(next.value)) {
        const used = Math.min(piece.length, n - at);
        out.set(used === piece.length ? piece : piece.subarray(0, used), at);
        at += used;
        if (used < piece.length) this.keep(piece.subarray(used));
      }
    }
    return out;
  }

  /** Consumes `n` bytes that lie in chunks[0] from `pos` on. */
  private advance(n: number): void {
    this.pos += n;
    this.buffered -= n;
    if (this.pos === this.chunks[0]!.length) {
      this.chunks.shift();
      this.pos = 0;
    }
  }

  /** Exactly `n` bytes if they are already buffered (consumed), else undefined (nothing consumed). */
  take(n: number): Uint8Array | undefined {
    if (n === 0) return new Uint8Array(0);
    if (this.buffered < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length - this.pos >= n) {
      // Fast path: the whole read lies in the first chunk.
      const out = first.subarray(this.pos, this.pos + n);
      this.advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length - this.pos, n - at);
      out.set(chunk.subarray(this.pos, this.pos + take), at);
      at += take;
      this.advance(take);
    }
    return out;
  }

  /** A u32 BE if its 4 bytes are buffered (consumed), else undefined. Decoded in place when it can be. */
  takeU32(): number | undefined {
    const first = this.chunks[0];
    if (first && first.length - this.pos >= 4) {
      const n = decodeU32(first, this.pos);
      this.advance(4);
      return n;
    }
    const bytes = this.take(4);
    return bytes && decodeU32(bytes);
  }

  /** A u64 BE length (see `decodeLength`) if its 8 bytes are buffered (consumed), else undefined. */
  takeLength(max: number): number | undefined {
    const first = this.chunks[0];
    if (first && first.length - this.pos >= 8) {
      const n = decodeLength(first, max, this.pos);
      this.advance(8);
      return n;
    }
    const bytes = this.take(8);
    return bytes && decodeLength(bytes, max);
  }

  async readExactly(n: number): Promise<Uint8Array> {
    const ready = this.take(n);
    if (ready) return ready;
    if (n >= DIRECT_READ_MIN) return this.readInto(n);
    await this.fill(n);
    if (this.buffered < n) throw new ProtocolError(`stream ended: wanted ${n} bytes, got ${this.buffered}`);
    return this.take(n)!;
  }

  async readU8(): Promise<number> {
    return (await this.readExactly(1))[0]!;
  }

  async readU32(): Promise<number> {
    return this.takeU32() ?? decodeU32(await this.readExactly(4));
  }

  /** Reads a u64 BE; returns -1 for the all-ones "missing" marker, throws above `max`. */
  async readU64Length(max: number): Promise<number> {
    return this.takeLength(max) ?? decodeLength(await this.readExactly(8), max);
  }
}

/** The u32 BE at `b[at..at+4]`. */
export function decodeU32(b: Uint8Array, at = 0): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The u64 BE length at `b[at..at+8]`: -1 for the all-ones "missing" marker; throws above `max`. */
export function decodeLength(b: Uint8Array, max: number, at = 0): number {
  const hi = decodeU32(b, at);
  const lo = decodeU32(b, at + 4);
  if (hi === 0xffffffff && lo === 0xffffffff) return -1;
  const n = hi * 2 ** 32 + lo;
  if (n > max) throw new ProtocolError(`length ${n} exceeds the limit of ${max} bytes`);
  return n;
}

/**
 * Bytes a writer may leave queued in a stream before it waits for the stream to drain. A stream
 * reports "full" as soon as its transport is busy (QUIC's is busy during every native write), and
 * waiting then would stall a server between responses; a few MiB queued keep it answering while
 * bounding its memory per stream.
 */
export const SEND_HIGH_WATER = 4 << 20;

/** A writer whose peer reads nothing for this long gives up (see `sendAll`). */
export const SEND_STALL_MS = 30_000;

/**
 * Sends bytes; while more than SEND_HIGH_WATER bytes are queued it waits for the stream to drain,
 * and fails with StreamTimeoutError when the peer takes nothing for `stallMs` (a reader that never
 * reads would otherwise hold the writer and its queued bytes forever). It waits for `drain` events
 * itself: libp2p's `onDrain()` keeps its first promise once resolved, so after a stream's first
 * drain it returns at once, and a QUIC stream (which drains after every native write) let a
 * server queue replies without end to a peer that read slowly.
 */
export async function sendAll(stream: Stream, data: Uint8Array, stallMs = SEND_STALL_MS): Promise<void> {
  stream.send(data);
  while (stream.writeBufferLength > SEND_HIGH_WATER) await nextDrain(stream, stallMs);
}

/** The stream's next `drain` event; StreamTimeoutError after `stallMs` without one; the stream's error if it closes. */
function nextDrain(stream: Stream, stallMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      stream.removeEventListener("drain", onDrain);
      stream.removeEventListener("close", onClose);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onClose = (evt: Event) => {
      done();
      reject((evt as Event & { error?: Error }).error ?? new ProtocolError("stream closed while a reply was queued"));
    };
    const timer = setTimeout(() => {
      done();
      reject(new StreamTimeoutError(`peer stalled: read nothing of our reply for ${(stallMs / 1000).toFixed(1)} s`));
    }, stallMs);
    stream.addEventListener("drain", onDrain);
    stream.addEventListener("close", onClose);
    if (stream.status !== "open" || stream.writeStatus !== "writable") onClose(new Event("close"));
  });
}

/**
 * Coalesces many small writes into large sends: every `send` becomes at least one encrypted,
 * framed message, so thousands of tiny sends cost far more than a few 256 KiB ones. Writing is
 * synchronous (small parts and length fields are copied into a staging buffer, large parts queued
 * as they are); the caller flushes when `full` says so, and at the end of each response.
 */
export class BufferedWriter {
  /** Parts ready to send, in order: sealed staging buffers and large parts. */
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private staging: Uint8Array;
  private used = 0;

  constructor(
    private readonly stream: Stream,
    private readonly flushAt = 256 * 1024,
    private readonly stallMs = SEND_STALL_MS,
  ) {
    this.staging = new Uint8Array(flushAt);
  }

  /** Whether enough is written that the caller should `flush` before writing more. */
  get full(): boolean {
    return this.queuedBytes + this.used >= this.flushAt;
  }

  /** Queues bytes; parts of 64 KiB or more are sent as they are (not copied), so do not mutate them. */
  write(bytes: Uint8Array): void {
    if (bytes.length >= 64 * 1024) {
      this.seal();
      this.queued.push(bytes);
      this.queuedBytes += bytes.length;
      return;
    }
    this.room(bytes.length);
    this.staging.set(bytes, this.used);
    this.used += bytes.length;
  }

  writeU32(n: number): void {
    this.room(4);
    putU32(this.staging, this.used, n);
    this.used += 4;
  }

  /** A u64 BE length; `n` must be a safe integer (lengths are). */
  writeU64(n: number): void {
    this.room(8);
    putU64(this.staging, this.used, n);
    this.used += 8;
  }

  /** Sends everything written so far, waiting whenever the stream's buffer is full. */
  async flush(): Promise<void> {
    this.seal();
    const parts = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    for (const part of parts) await sendAll(this.stream, part, this.stallMs);
  }

  /** Makes room for `n` more staged bytes. */
  private room(n: number): void {
    if (this.used + n > this.staging.length) this.seal();
  }

  /**
   * Moves the staged bytes to the send queue. A mostly full staging buffer goes as it is and a
   * fresh one follows (the stream keeps the old one); a short run is copied out and the buffer
   * reused: a view of a few bytes keeps its whole buffer alive while the stream holds it, so
   * every short reply (a response's last flush, a CHILDREN or HEADS answer) pinned 256 KiB.
   */
  private seal(): void {
    if (this.used === 0) return;
    if (this.used * 2 < this.staging.length) {
      this.queued.push(this.staging.slice(0, this.used));
    } else {
      this.queued.push(this.staging.subarray(0, this.used));
      noteTransient(this.staging.length);
      this.staging = new Uint8Array(this.flushAt);
    }
    this.queuedBytes += this.used;
    this.used = 0;
  }
}

// Big-endian length fields, written byte by byte: one is made per blob sent, and a DataView (or a
// BigInt) per call costs more than the blob's own bookkeeping under JavaScriptCore.

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  putU32(b, 0, n);
  return b;
}

/** `n` must be a safe integer (lengths are). */
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  putU64(b, 0, n);
  return b;
}

function putU64(b: Uint8Array, at: number, n: number): void {
  putU32(b, at, Math.floor(n / 2 ** 32));
  putU32(b, at + 4, n >>> 0);
}

function putU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = n >>> 16;
  b[at + 2] = n >>> 8;
  b[at + 3] = n;
}

export const MISSING_LEN = new Uint8Array(8).fill(0xff);
