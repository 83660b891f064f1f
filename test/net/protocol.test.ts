import { afterEach, describe, expect, test } from "bun:test";
import { multiaddr } from "@multiformats/multiaddr";
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { AuthRejectedError, SyncClient } from "../../src/net/client.ts";
import { BadDataError, fetchClosure } from "../../src/net/fetch.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { type AccessPolicy, LIMITS, OP_AUTH, OP_CHAIN, OP_CHILDREN, OP_GET_BLOB, OP_REVOCATIONS, openPolicy, PROTOCOL_V4, PROTOCOL_V5, SyncServer } from "../../src/net/protocol.ts";
import { SERVER_BUDGET } from "../../src/net/budget.ts";
import { taiNsFromUnixMs } from "../../src/core/schemas.ts";
import { StreamReader } from "../../src/net/stream-io.ts";
import type { Stream } from "@libp2p/interface";
import { until } from "./fixtures/until.ts";
import { corruptingStore } from "./corrupt-store.ts";

const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function host(key = SigningKey.generate()): Promise<Host> {
  const h = await createHost({ key, listen: ["/ip4/127.0.0.1/tcp/0"], dht: false });
  hosts.push(h);
  return h;
}

/** A DAG: `fanout` leaves per inner node, `depth` levels; returns the root. */
function buildDag(store: MemoryStore, depth: number, fanout: number, salt = 0): Hash {
  let level = Array.from({ length: fanout ** depth }, (_, i) => store.put(new TextEncoder().encode(`leaf ${salt} ${i} ${"x".repeat(200)}`)));
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += fanout) {
      const buf = new Uint8Array(fanout * 32);
      level.slice(i, i + fanout).forEach((h, j) => {
        buf.set(h, j * 32);
      });
      next.push(store.put(buf));
    }
    level = next;
  }
  return level[0]!;
}

const none = { capHandle: new Uint8Array(32), chain: [] };

/**
 * Bytes the server sends on `stream` until it ends the stream; fails if it has not within half of
 * SERVER_BUDGET.progressMs (the read timeout that would end it otherwise).
 */
async function receivedUntilAbort(stream: Stream): Promise<number> {
  const reader = new StreamReader(stream);
  let received = 0;
  const ended = (async () => {
    try {
      while (!(await reader.atEnd())) received += (await reader.readExactly(1)).length;
    } catch {}
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the server did not end the stream: it waits for bytes a bound should have refused")), SERVER_BUDGET.progressMs / 2);
  });
  await Promise.race([ended, stalled]).finally(() => clearTimeout(timer));
  return received;
}
const addrOf = (h: Host) => multiaddr(h.getMultiaddrs()[0]!.toString());

async function rawOp(client: Host, server: Host, protocol: string, request: Uint8Array): Promise<Uint8Array> {
  const stream = await client.dialProtocol(addrOf(server), protocol);
  stream.send(request);
  await stream.close();
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk instanceof Uint8Array ? new Uint8Array(chunk) : new Uint8Array(chunk.subarray()));
  return new Uint8Array(Buffer.concat(parts));
}

describe("pile-sync protocol", () => {
  test("the reference's v4 forms are byte-exact and AUTH comes first", async () => {
    const store = new MemoryStore();
    const data = new TextEncoder().encode("data");
    const h = store.put(data);
    const parent = new Uint8Array(96);
    parent.set(h, 0);
    parent.set(h, 64);
    const p = store.put(parent);
    const server = await host();
    await new SyncServer(server, store, openPolicy).start();
    const client = await host();
    const op = (code: number, target: Uint8Array) => new Uint8Array([code, ...target]);
    // Before AUTH: no response bytes at all.
    expect(await rawOp(client, server, PROTOCOL_V4, op(OP_GET_BLOB, h))).toEqual(new Uint8Array(0));
    expect(await rawOp(client, server, PROTOCOL_V4, op(OP_AUTH, new Uint8Array(32)))).toEqual(new Uint8Array([0]));
    const blob = await rawOp(client, server, PROTOCOL_V4, op(OP_GET_BLOB, h));
    expect(blob).toEqual(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 4, ...data]));
    expect(await rawOp(client, server, PROTOCOL_V4, op(OP_GET_BLOB, hash(new Uint8Array([9]))))).toEqual(new Uint8Array(8).fill(0xff));
    // CHILDREN: every matching chunk in order, no de-duplication, then 32 zero bytes.
    expect(await rawOp(client, server, PROTOCOL_V4, op(OP_CHILDREN, p))).toEqual(new Uint8Array([...h, ...h, ...new Uint8Array(32)]));
    expect(await rawOp(client, server, PROTOCOL_V4, new Uint8Array([0x04, ...h]))).toEqual(new Uint8Array(0));
  }, 20_000);

  test("malformed or oversized frames abort that stream at once, with the stream left open; the server keeps serving", async () => {
    const store = new MemoryStore();
    const root = buildDag(store, 2, 4);
    const server = await host();
    const errors: string[] = [];
    // Strangers are not closed for lack of AUTH during this test: only the bound checks end streams.
    await new SyncServer(server, store, openPolicy, { onError: (_peer, err) => errors.push(err.message) }, { admission: { authDeadlineMs: 60_000 } }).start();
    const auth = new Uint8Array([OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0]);
    const cap = new Uint8Array(32).fill(1);
    // Each frame promises more bytes than a bound allows and we never send them, nor close: only
    // the bound check ends the stream (a read timeout would, but only after SERVER_BUDGET.progressMs).
    const overLimit: [Uint8Array, string][] = [
      [new Uint8Array([...auth, 0x12, 0xff, 0xff, 0xff, 0xff]), "batch of 4294967295 hashes (limit"], // 4 billion hashes
      [new Uint8Array([OP_AUTH, ...cap, 0xff, 0xff, 0xff, 0xff]), "AUTH carries 4294967295 blobs (limit"], // 4 billion AUTH blobs
      [new Uint8Array([OP_AUTH, ...cap, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]), "AUTH blob of 4294967295 bytes (limit"], // 4 GiB AUTH blob
      [new Uint8Array([OP_AUTH, ...cap, 0, 0, 0, 1, 0, 2, 0, 0]), "AUTH blob of 131072 bytes (limit"], // over what a chain needs
      [new Uint8Array([...auth, 0x15, ...new Uint8Array(32), 0xff, 0xff, 0xff, 0xff]), "CLOSURE with 4294967295 have-hashes (limit"],
      [new Uint8Array([...auth, 0x7f]), "unknown operation"],
      [new Uint8Array([0x12, 0, 0, 0, 1, ...new Uint8Array(32)]), "request before a successful AUTH"],
    ];
    for (const [frame, reason] of overLimit) {
      // A fresh connection each time: AUTH state is per connection.
      const stream = await (await host()).dialProtocol(addrOf(server), PROTOCOL_V5);
      stream.send(frame);
      expect(await receivedUntilAbort(stream)).toBeLessThanOrEqual(1); // at most the AUTH status byte
      await until(() => errors.some((e) => e.includes(reason)), 1000);
    }
    // A truncated frame ends with the stream: here we close our side.
    const stream = await (await host()).dialProtocol(addrOf(server), PROTOCOL_V5);
    stream.send(new Uint8Array([...auth, 0x12, 0, 0, 0, 2, 1, 2, 3]));
    await stream.close().catch(() => undefined);
    expect(await receivedUntilAbort(stream)).toBeLessThanOrEqual(1);
    const ok = await SyncClient.connect(await host(), addrOf(server), none);
    const target = new MemoryStore();
    const summary = await fetchClosure(ok, root, target);
    expect(summary.blobs).toBe(21);
  }, 30_000);

  test("out-of-scope blobs look missing; a rejecting policy gives nothing", async () => {
    const store = new MemoryStore();
    const secret = store.put(new TextEncoder().encode("secret"));
    const open = store.put(new TextEncoder().encode("open"));
    const scoped: AccessPolicy = { authorize: () => ({ inScope: (h: Hash) => bytesEqual(h, open) }) };
    const server = await host();
    await new SyncServer(server, store, scoped).start();
    const client = await SyncClient.connect(await host(), addrOf(server), none);
    expect(await client.getBlobs([secret, open])).toEqual([null, new TextEncoder().encode("open")]);

    const refusing = await host();
    await new SyncServer(refusing, store, { authorize: () => null }).start();
    await expect(SyncClient.connect(await host(), addrOf(refusing), none)).rejects.toThrow("refused our capability (it gave no reason)");
  }, 20_000);

  test("a refusal says why on v5 (code and instant) and stays the reference's single byte on v4; a cut-off connection is closed and serves nothing more", async () => {
    const store = new MemoryStore();
    const blob = store.put(new TextEncoder().encode("served until cut off"));
    const at = taiNsFromUnixMs(Date.UTC(2026, 11, 2, 5, 50, 0));
    let refuse = true;
    const policy: AccessPolicy = { authorize: () => (refuse ? { refusal: { kind: "revoked", atNs: at } } : { inScope: () => true }) };
    const serverHost = await host();
    const server = new SyncServer(serverHost, store, policy);
    await server.start();
    const clientKey = SigningKey.generate();
    const clientHost = await host(clientKey);

    const v4 = await rawOp(clientHost, serverHost, PROTOCOL_V4, new Uint8Array([OP_AUTH, ...new Uint8Array(32)]));
    expect([...v4]).toEqual([0x01]);
    const refused = await SyncClient.connect(clientHost, addrOf(serverHost), none).catch((e) => e);
    expect(refused).toBeInstanceOf(AuthRejectedError);
    expect((refused as AuthRejectedError).refusal).toEqual({ kind: "revoked", atNs: at });
    expect((refused as AuthRejectedError).message).toBe(`peer ${serverHost.peerId} refused our capability: it was revoked on 2026-12-02T05:50:00Z`);

    refuse = false;
    const client = await SyncClient.connect(clientHost, addrOf(serverHost), none);
    expect(await client.getBlobs([blob])).toHaveLength(1);
    expect(server.cutOff(clientKey.publicKey)).toBe(1);
    await expect(client.getBlobs([blob])).rejects.toThrow();
    expect(client.isOpen).toBe(false);
  }, 20_000);

  test("REVOCATIONS is bounded: more blobs than the limit, or a blob over 512 bytes, closes the stream before anything is read or verified", async () => {
    const store = new MemoryStore();
    const learned: number[] = [];
    const policy: AccessPolicy = { authorize: () => ({ inScope: () => true }), learnRevocations: (blobs) => learned.push(blobs.length), revocationBlobs: () => [] };
    const serverHost = await host();
    await new SyncServer(serverHost, store, policy).start();
    const clientHost = await host();
    const auth = [OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0];
    const u32be = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    for (const request of [
      // Complete, well-formed messages: without the bounds they would be read and answered.
      [...auth, OP_REVOCATIONS, ...u32be(LIMITS.maxRevocationBlobs + 1), ...new Array(LIMITS.maxRevocationBlobs + 1).fill(u32be(0)).flat()],
      [...auth, OP_REVOCATIONS, ...u32be(1), ...u32be(LIMITS.maxRevocationBlobBytes + 1), ...new Array(LIMITS.maxRevocationBlobBytes + 1).fill(0)],
    ]) {
      const reply = await rawOp(clientHost, serverHost, PROTOCOL_V5, new Uint8Array(request)).catch(() => new Uint8Array([0xff]));
      // The AUTH reply at most; never a REVOCATIONS reply.
      expect(reply.length).toBeLessThanOrEqual(1);
    }
    expect(learned).toEqual([]);
    // Within the bounds it is answered.
    const ok = await rawOp(clientHost, serverHost, PROTOCOL_V5, new Uint8Array([...auth, OP_REVOCATIONS, ...u32be(0)]));
    expect([...ok]).toEqual([0x00, 0, 0, 0, 0]);
  }, 20_000);

  test("a peer (v5) without REVOCATIONS or CHAIN leaves the client with null, not an error", async () => {
    const store = new MemoryStore();
    const serverHost = await host();
    await new SyncServer(serverHost, store, openPolicy, {}, { withoutOps: [OP_REVOCATIONS, OP_CHAIN] }).start();
    const client = await SyncClient.connect(await host(), addrOf(serverHost), none);
    expect(await client.revocations([])).toBeNull();
    expect(await client.chainOf(new Uint8Array(32))).toBeNull();
    expect(await client.heads()).toEqual([]);
  }, 20_000);

  test("a peer serving corrupted bytes is dropped and nothing bad is stored", async () => {
    const store = new MemoryStore();
    const root = buildDag(store, 2, 8);
    // A malicious peer: serves every leaf with one byte flipped.
    const corrupt = corruptingStore(store, (_, b) => b.length % 32 !== 0);
    const server = await host();
    await new SyncServer(server, corrupt, openPolicy).start();
    const target = new MemoryStore();
    const client = await SyncClient.connect(await host(), addrOf(server), none);
    await expect(fetchClosure(client, root, target)).rejects.toThrow(BadDataError);
    const reader = target.reader();
    for (const h of reader.list()) expect(hash(reader.get(h)!)).toEqual(h);
    expect(reader.has(root)).toBe(false);
  }, 20_000);

  test("a fetch killed midway resumes without refetching what was stored", async () => {
    const store = new MemoryStore();
    const root = buildDag(store, 3, 10); // 1,111 blobs
    const key = SigningKey.generate();
    let server = await host(key);
    await new SyncServer(server, store, openPolicy).start();
    const target = new MemoryStore();
    const clientHost = await host();
    const client = await SyncClient.connect(clientHost, addrOf(server), none);
    let stoppedAt = 0;
    const first = fetchClosure(client, root, target, {
      batch: 50,
      window: 1,
      onProgress: (p) => {
        if (p.stored >= 300 && stoppedAt === 0) {
          stoppedAt = p.stored;
          void server.stop();
        }
      },
    });
    await expect(first).rejects.toThrow();
    const kept = target.reader().len;
    expect(kept).toBeGreaterThanOrEqual(300);
    expect(kept).toBeLessThan(1111);
    expect(target.reader().has(root)).toBe(false);
    // Restart the sender (same identity) and fetch again.
    server = await host(key);
    await new SyncServer(server, store, openPolicy).start();
    const again = await SyncClient.connect(clientHost, addrOf(server), none);
    const summary = await fetchClosure(again, root, target);
    expect(summary.blobs).toBe(1111 - kept);
    expect(target.reader().len).toBe(1111);
  }, 30_000);
});
