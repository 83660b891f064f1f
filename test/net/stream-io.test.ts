/** The protocol's big-endian length fields: encoded as DataView would, decoded with their bounds. */
import { expect, test } from "bun:test";
import { notedBytes } from "../../src/core/gc-pacer.ts";
import { BufferedWriter, decodeLength, decodeU32, MISSING_LEN, ProtocolError, SEND_HIGH_WATER, StreamReader, StreamTimeoutError, sendAll, u32, u64 } from "../../src/net/stream-io.ts";

test("u32 and u64 write big-endian fields, exactly as DataView does, and read back", () => {
  for (const n of [0, 1, 255, 256, 0xdeadbeef, 2 ** 32 - 1]) {
    const want = new Uint8Array(4);
    new DataView(want.buffer).setUint32(0, n);
    expect(u32(n)).toEqual(want);
    expect(decodeU32(u32(n))).toBe(n);
  }
  for (const n of [0, 1, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345, 2 ** 53 - 1]) {
    const want = new Uint8Array(8);
    new DataView(want.buffer).setBigUint64(0, BigInt(n));
    expect(u64(n)).toEqual(want);
    expect(decodeLength(u64(n), 2 ** 53)).toBe(n);
  }
});

test("a length past its bound is a protocol error; the all-ones length means missing", () => {
  expect(() => decodeLength(u64(2 ** 32 + 1), 2 ** 32)).toThrow(ProtocolError);
  expect(decodeLength(MISSING_LEN, 2 ** 32)).toBe(-1);
});

/** A stream that yields `bytes` cut at the given sizes, as plain arrays or as lists of buffers. */
async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array | { bufs: Uint8Array[]; subarray(): Uint8Array }> {
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + size));
    at += piece.length;
    if (i % 3 === 2) {
      const half = piece.length >> 1;
      yield { bufs: [piece.subarray(0, half), piece.subarray(half)], subarray: () => piece.slice() };
    } else yield piece;
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

test("StreamReader returns the same fields however the stream is cut, and its views stay valid", async () => {
  // A message: u32 count, then per item a u64 length and that many bytes, then one marker byte.
  const items = Array.from({ length: 40 }, (_, i) => new Uint8Array((i * 37) % 300).fill(i));
  const parts = [u32(items.length), ...items.flatMap((b) => [u64(b.length), b]), new Uint8Array([0x7e])];
  const message = new Uint8Array(Buffer.concat(parts));
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return 1 + (seed % n);
  };
  for (const maxChunk of [1, 3, 7, 64, 500, 100_000]) {
    const sizes = Array.from({ length: message.length }, () => random(maxChunk));
    const reader = new StreamReader(chunked(message, sizes));
    const count = reader.takeU32() ?? (await reader.readU32());
    expect(count).toBe(items.length);
    const got: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const len = i % 2 ? (reader.takeLength(1000) ?? (await reader.readU64Length(1000))) : await reader.readU64Length(1000);
      got.push(reader.take(len) ?? (await reader.readExactly(len)));
    }
    expect(await reader.readU8()).toBe(0x7e);
    expect(await reader.atEnd()).toBe(true);
    expect(got).toEqual(items);
    await expect(reader.readExactly(1)).rejects.toThrow(ProtocolError);
  }
});

test("StreamReader reads large fields straight into their buffer, however the stream is cut, and keeps what follows", async () => {
  const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255);
  const message = new Uint8Array(Buffer.concat([big, new Uint8Array([1, 2, 3]), big.subarray(0, 70_000)]));
  for (const sizes of [[100, 299_950, 100], [65_536, 65_536, 65_536, 65_536, 65_536, 65_536], [300_003, 70_000], [1]]) {
    const reader = new StreamReader(chunked(message, sizes));
    expect(await reader.readExactly(big.length)).toEqual(big);
    expect(await reader.readExactly(3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await reader.readExactly(70_000)).toEqual(big.subarray(0, 70_000));
    expect(await reader.atEnd()).toBe(true);
  }
  const short = new StreamReader(chunked(big.subarray(0, 100_000), [40_000, 40_000]));
  await expect(short.readExactly(big.length)).rejects.toThrow("wanted 300000 bytes, got 100000");
});

test("StreamReader keeps no copy of the pieces of a large read while it waits for the rest", async () => {
  const pieces: ((piece: Uint8Array) => void)[] = [];
  const source = {
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Uint8Array>>((resolve) => pieces.push((value) => resolve({ done: false, value }))) }),
  };
  const reader = new StreamReader(source);
  const read = reader.readExactly(1 << 20);
  for (let i = 0; i < 3; i++) {
    while (pieces.length === 0) await Bun.sleep(0);
    pieces.shift()!(new Uint8Array(300 << 10).fill(i + 1));
  }
  while (pieces.length === 0) await Bun.sleep(0);
  // 900 KiB arrived: they are in the read's buffer, not held as chunks to be copied again.
  expect(reader.unread).toBe(0);
  pieces.shift()!(new Uint8Array(200 << 10).fill(9));
  const got = await read;
  expect(got[0]).toBe(1);
  expect(got[(900 << 10) - 1]).toBe(3);
  expect(got[(1 << 20) - 1]).toBe(9);
  expect(reader.unread).toBe((1100 << 10) - (1 << 20)); // the last piece's rest
});

test("StreamReader bounds a length before reading what it announces", async () => {
  const reader = new StreamReader(chunked(new Uint8Array([...u64(2 ** 40), 1, 2, 3]), [4, 4, 3]));
  await expect(reader.readU64Length(2 ** 32)).rejects.toThrow("exceeds the limit");
});

test("BufferedWriter keeps the order of small, large and fixed-width writes, and says when to flush", async () => {
  const sent: Uint8Array[] = [];
  // Only send is used here (when sending waits is sendAll's business, tested below).
  const stream = { send: (b: Uint8Array) => sent.push(b.slice()) > 0 } as unknown as ConstructorParameters<typeof BufferedWriter>[0];
  const out = new BufferedWriter(stream, 1000);
  const expected: number[] = [];
  const large = new Uint8Array(70_000).fill(9);
  for (let i = 0; i < 300; i++) {
    out.writeU32(i);
    expected.push(...u32(i));
    if (i % 50 === 7) {
      out.writeU64(large.length);
      out.write(large);
      expected.push(...u64(large.length), ...large);
    } else {
      const small = new Uint8Array(i % 13).fill(i);
      out.write(small);
      expected.push(...small);
    }
    if (out.full) await out.flush();
  }
  await out.flush();
  await out.flush(); // nothing left: sends nothing
  expect(new Uint8Array(Buffer.concat(sent))).toEqual(new Uint8Array(expected));
  expect(Math.max(...sent.filter((b) => b.length !== large.length).map((b) => b.length))).toBeLessThanOrEqual(1000);
});

test("BufferedWriter sends a few staged bytes as a copy: a large blob's length field does not hold a staging buffer", async () => {
  const sent: Uint8Array[] = [];
  const stream = { send: (b: Uint8Array) => sent.push(b) > 0 } as unknown as ConstructorParameters<typeof BufferedWriter>[0];
  const out = new BufferedWriter(stream, 256 * 1024);
  const blob = new Uint8Array(1 << 20);
  for (let i = 0; i < 3; i++) {
    out.writeU64(blob.length);
    out.write(blob);
  }
  await out.flush();
  expect(sent.map((b) => b.length)).toEqual([8, 1 << 20, 8, 1 << 20, 8, 1 << 20]);
  for (const part of sent.filter((b) => b.length === 8)) expect(part.buffer.byteLength).toBe(8);
  // A well-filled staging buffer is sent as it is.
  sent.length = 0;
  for (let i = 0; i < 200; i++) out.write(new Uint8Array(1024).fill(i));
  await out.flush();
  expect(sent[0]!.buffer.byteLength).toBe(256 * 1024);
});

test("BufferedWriter sends short flushes as copies: a queued part never holds a buffer much larger than itself", async () => {
  // The transport keeps what it is given (as a stream queues parts it has not written yet).
  const sent: Uint8Array[] = [];
  const stream = { send: (b: Uint8Array) => sent.push(b) > 0 } as unknown as ConstructorParameters<typeof BufferedWriter>[0];
  const out = new BufferedWriter(stream, 1000);
  const expected: number[] = [];
  for (let i = 0; i < 200; i++) {
    // Replies of a few bytes flushed one by one, and now and then one that fills the buffer.
    const reply = new Uint8Array(i % 10 === 9 ? 990 : (i % 7) + 1).fill(i);
    out.writeU32(i);
    out.write(reply);
    expected.push(...u32(i), ...reply);
    if (out.full) await out.flush();
    if (i % 10 !== 8) await out.flush();
  }
  await out.flush();
  // Reusing the staging buffer after a copy changed nothing already sent.
  expect(new Uint8Array(Buffer.concat(sent))).toEqual(new Uint8Array(expected));
  for (const part of sent) expect(part.buffer.byteLength).toBeLessThanOrEqual(2 * part.length);
});

test("BufferedWriter notes the buffers it hands to the stream for collection pacing", async () => {
  const stream = { send: () => true } as unknown as ConstructorParameters<typeof BufferedWriter>[0];
  const out = new BufferedWriter(stream);
  const before = notedBytes();
  const piece = new Uint8Array(1000);
  for (let sent = 0; sent < 24 << 20; sent += piece.length) {
    out.write(piece);
    if (out.full) await out.flush();
  }
  // Garbage once the transport wrote them, they are what a QUIC sender's heap grew with.
  expect(notedBytes() - before).toBeGreaterThanOrEqual(23 << 20);
});

/**
 * A transport that is always busy: every send reports a full stream and queues its bytes;
 * `drain(n)` takes n bytes and fires a drain event. Its `onDrain()` resolves at once, as libp2p's
 * does after a stream's first drain: sendAll must not rely on it.
 */
class BusyStream extends EventTarget {
  queued = 0;
  status = "open";
  writeStatus = "writable";
  send(b: Uint8Array): boolean {
    this.queued += b.length;
    return false;
  }
  get writeBufferLength(): number {
    return this.queued;
  }
  async onDrain(): Promise<void> {}
  drain(n: number): void {
    this.queued = Math.max(0, this.queued - n);
    this.dispatchEvent(new Event("drain"));
  }
}
const busyStream = () => new BusyStream();

test("sendAll waits for drains while more than SEND_HIGH_WATER bytes are queued, however many it takes", async () => {
  const stream = busyStream();
  const chunk = new Uint8Array(SEND_HIGH_WATER / 4);
  for (let i = 0; i < 4; i++) await sendAll(stream as never, chunk);
  let sent = false;
  const fifth = sendAll(stream as never, chunk).then(() => {
    sent = true;
  });
  // Each drain takes a little; sendAll returns only once the queue is back under the mark.
  for (let i = 0; i < 3; i++) {
    stream.drain(SEND_HIGH_WATER / 16);
    await Bun.sleep(0);
    expect(sent).toBe(false);
  }
  stream.drain(SEND_HIGH_WATER);
  await fifth;
  expect(sent).toBe(true);
});

/** A source that yields `bytes` one at a time, `gapMs` apart, then never again (a stalled peer). */
async function* trickle(bytes: number, gapMs: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes; i++) {
    if (i > 0) await Bun.sleep(gapMs);
    yield new Uint8Array([i]);
  }
  await new Promise(() => undefined);
}

test("a read stalled mid-frame fails after the progress timeout; a trickled frame after its deadline", async () => {
  // The peer sends one byte of a two-byte field and stops.
  const stalled = new StreamReader(trickle(1, 0), { progressMs: 50 });
  await expect(stalled.readExactly(2)).rejects.toBeInstanceOf(StreamTimeoutError);
  // A byte every 10 ms always makes progress, but a 200-byte frame would take 2 s: the deadline cuts it.
  const slow = new StreamReader(trickle(200, 10), { progressMs: 1000 });
  slow.deadline(100);
  await expect(slow.readExactly(200)).rejects.toThrow("frame not complete in time");
  // Between frames the wait is the idle timeout's, not the progress timeout's.
  const idle = new StreamReader(trickle(0, 0), { progressMs: 10_000, idleMs: 50 });
  await expect(idle.atEnd()).rejects.toThrow("between frames");
}, 10_000);

test("sendAll gives up on a peer that reads nothing of a queued reply", async () => {
  // A stream whose buffer never drains.
  const stream = busyStream();
  await expect(sendAll(stream as never, new Uint8Array(SEND_HIGH_WATER + 1), 50)).rejects.toBeInstanceOf(StreamTimeoutError);
}, 10_000);
