/**
 * Byte-exact reading and back-pressured writing on libp2p streams. Streams deliver chunks of any
 * size; protocol code wants "exactly n bytes" with every length bounded before it is trusted.
 */
import type { Stream } from "@libp2p/interface";

type Chunk = Uint8Array | { subarray(): Uint8Array };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Reads exact byte counts from a stream; `readExactly` throws ProtocolError on early end. */
export class StreamReader {
  private readonly source: AsyncIterator<Chunk>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(stream: AsyncIterable<Chunk>) {
    this.source = stream[Symbol.asyncIterator]();
  }

  /** True when the remote closed its side and every byte was consumed. */
  async atEnd(): Promise<boolean> {
    if (this.buffered > 0) return false;
    await this.fill(1);
    return this.buffered === 0;
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      // Copy into plain Uint8Arrays: transports hand out Node Buffers from pools they reuse once we
      // yield (and Buffer#slice is a view, not a copy), while we keep chunks across awaits. A list of
      // buffers is copied piece by piece (its subarray() would concatenate first: two copies).
      const value = next.value as Chunk & { bufs?: Uint8Array[] };
      const pieces = value instanceof Uint8Array ? [value] : Array.isArray(value.bufs) ? value.bufs : [value.subarray()];
      for (const piece of pieces) {
        if (piece.length === 0) continue;
        this.chunks.push(new Uint8Array(piece));
        this.buffered += piece.length;
      }
    }
  }

  /** Exactly `n` bytes if they are already buffered (consumed), else undefined (nothing consumed). */
  take(n: number): Uint8Array | undefined {
    if (n === 0) return new Uint8Array(0);
    if (this.buffered < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // Fast path: the whole read lies in the first chunk.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, take), at);
      at += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.buffered -= n;
    return out;
  }

  async readExactly(n: number): Promise<Uint8Array> {
    const ready = this.take(n);
    if (ready) return ready;
    await this.fill(n);
    if (this.buffered < n) throw new ProtocolError(`stream ended: wanted ${n} bytes, got ${this.buffered}`);
    return this.take(n)!;
  }

  async readU8(): Promise<number> {
    return (await this.readExactly(1))[0]!;
  }

  async readU32(): Promise<number> {
    return decodeU32(this.take(4) ?? (await this.readExactly(4)));
  }

  /** Reads a u64 BE; returns -1 for the all-ones "missing" marker, throws above `max`. */
  async readU64Length(max: number): Promise<number> {
    return decodeLength(this.take(8) ?? (await this.readExactly(8)), max);
  }
}

export function decodeU32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** A u64 BE length: -1 for the all-ones "missing" marker; throws above `max`. */
export function decodeLength(b: Uint8Array, max: number): number {
  const hi = decodeU32(b);
  const lo = decodeU32(b.subarray(4));
  if (hi === 0xffffffff && lo === 0xffffffff) return -1;
  const n = hi * 2 ** 32 + lo;
  if (n > max) throw new ProtocolError(`length ${n} exceeds the limit of ${max} bytes`);
  return n;
}

/** Sends bytes, waiting when the stream's buffer is full. */
export async function sendAll(stream: Stream, data: Uint8Array): Promise<void> {
  if (!stream.send(data)) await stream.onDrain();
}

/**
 * Coalesces many small writes into large sends: every `send` becomes at least one encrypted,
 * framed message, so thousands of tiny sends cost far more than a few 256 KiB ones.
 */
export class BufferedWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(
    private readonly stream: Stream,
    private readonly flushAt = 256 * 1024,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.flushAt) {
      await this.flush();
      return sendAll(this.stream, bytes);
    }
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size >= this.flushAt) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.size = 0;
    await sendAll(this.stream, out);
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
  putU32(b, 0, Math.floor(n / 2 ** 32));
  putU32(b, 4, n >>> 0);
  return b;
}

function putU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = n >>> 16;
  b[at + 2] = n >>> 8;
  b[at + 3] = n;
}

export const MISSING_LEN = new Uint8Array(8).fill(0xff);
