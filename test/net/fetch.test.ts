/**
 * pile-sync and fetch against servers in their own processes (fixtures/serve.ts), over QUIC and TCP
 * on 127.0.0.1. The client runs in the test process with the real host, protocol and fetch.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual, toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { HashIndex } from "../../src/core/hash-index.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Hash } from "../../src/core/store.ts";
import { AuthRejectedError, SyncClient } from "../../src/net/client.ts";
import { BadDataError, FetchFailedError, fetchClosure, fetchFromPeers, MissingBlobError } from "../../src/net/fetch.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { OP_AUTH, OP_CHILDREN, OP_GET_BLOB, OP_GET_BLOBS, PROTOCOL_V4, PROTOCOL_V5 } from "../../src/net/protocol.ts";
import { providersFor } from "../../src/net/providers.ts";
import { DEFAULT_ADMISSION } from "../../src/net/admission.ts";
import { SERVER_BUDGET } from "../../src/net/budget.ts";
import { buildDag, closureOf, type DagShape, firstChild } from "./dag.ts";
import { killServers, QUIC, startServer, TCP } from "./server-process.ts";

/** 625 leaves under four inner levels: 781 blobs, about 1.3 MB. */
const SHAPE: DagShape = { depth: 4, fanout: 5, salt: 1 };
const none = { capHandle: new Uint8Array(32), chain: [] };
const seed = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

const hosts: Host[] = [];
afterEach(async () => {
  killServers();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function clientHost(opts: { dht?: boolean } = {}): Promise<Host> {
  const h = await createHost({ key: SigningKey.generate(), listen: opts.dht ? TCP : [], dht: opts.dht ?? false });
  hosts.push(h);
  return h;
}

/** The DAG as the server builds it, in a store of our own. */
function expected(shape = SHAPE) {
  const store = new MemoryStore();
  return { store, dag: buildDag(store, shape) };
}

/** Every stored blob belongs to `allowed`, hashes to its key, and has its closure stored too. */
function expectSound(target: MemoryStore, allowed: Hash[], source: MemoryStore): void {
  const set = new HashIndex(64);
  for (const h of allowed) set.insert(h);
  const reader = target.reader();
  for (const h of reader.list()) {
    expect(set.find(h)).toBeGreaterThanOrEqual(0);
    expect(bytesEqual(hash(reader.get(h)!), h)).toBe(true);
    for (const below of closureOf(source.reader(), h)) expect(reader.has(below)).toBe(true);
  }
}

/** Writes a request, closes our side and reads whatever comes back until the stream ends. */
/** Sends one request and reads the reply until the server ends the stream (at most 10 s: a hang names its op). */
/**
 * Sends `request` and collects the reply until the server ends the stream, without closing ours.
 * Fails unless that comes within half the shorter of the server's read timeout and its deadline for
 * AUTH (either would end the stream too, later): a prompt end is the bound check's.
 */
async function replyUntilAbort(stream: Stream, request: Uint8Array): Promise<Uint8Array> {
  const ms = Math.min(SERVER_BUDGET.progressMs, DEFAULT_ADMISSION.authDeadlineMs) / 2;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    stream.abort(new Error("late"));
  }, ms);
  stream.send(request);
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of stream) parts.push(new Uint8Array(chunk instanceof Uint8Array ? chunk : chunk.subarray()));
  } catch {
    // The server's abort ends the reply.
  } finally {
    clearTimeout(timer);
  }
  if (late) throw new Error(`the server did not end the stream within ${ms} ms of op 0x${request[0]!.toString(16)}: it waits for bytes a bound should have refused`);
  return new Uint8Array(Buffer.concat(parts));
}

async function exchange(stream: Stream, request: Uint8Array): Promise<Uint8Array> {
  const timer = setTimeout(() => stream.abort(new Error(`no end of reply to op 0x${request[0]!.toString(16)} within 10 s`)), 10_000);
  stream.send(request);
  await stream.close().catch(() => undefined);
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of stream) parts.push(new Uint8Array(chunk instanceof Uint8Array ? chunk : chunk.subarray()));
  } catch (err) {
    // An aborted stream ends the reply; our own timeout is a failure.
    if ((err as Error).message.startsWith("no end of reply")) throw err;
  } finally {
    clearTimeout(timer);
  }
  return new Uint8Array(Buffer.concat(parts));
}

const v4 = (op: number, target: Uint8Array) => new Uint8Array([op, ...target]);
const MISSING = new Uint8Array(8).fill(0xff);

describe("fetch from a server process", () => {
  for (const [transport, listen] of [
    ["QUIC", QUIC],
    ["TCP", TCP],
  ] as const) {
    test(`a 781-blob DAG, four levels deep, arrives whole over ${transport}`, async () => {
      const server = await startServer({ seed: seed(1), listen, dag: SHAPE });
      const { dag } = expected();
      expect(server.info.root).toBe(toHex(dag.root));
      const client = await SyncClient.connect(await clientHost(), server.addr, none);
      const target = new MemoryStore();
      const summary = await fetchClosure(client, dag.root, target);
      expect(summary.blobs).toBe(dag.hashes.length);
      expect(target.reader().len).toBe(dag.hashes.length);
      for (const h of dag.hashes) expect(bytesEqual(hash(target.reader().get(h)!), h)).toBe(true);
      // Round trips follow the depth: one CHILDREN frame per level, then ~1 MiB GET_BLOBS frames.
      expect(summary.depth).toBe(SHAPE.depth + 1);
      expect(summary.requests).toBeLessThan(30);
      const stats = await server.stats();
      expect(stats[OP_GET_BLOBS]).toBe(dag.hashes.length);
      // A second fetch finds the head stored and asks nothing.
      const again = await fetchClosure(client, dag.root, target);
      expect(again).toMatchObject({ blobs: 0, requests: 0 });
      await client.close();
    }, 30_000);
  }

  test("a small closure is downloaded while it is discovered, with no download round after it", async () => {
    const small: DagShape = { depth: 2, fanout: 5, salt: 7 }; // levels of 1, 5 and 25 blobs
    const server = await startServer({ seed: seed(9), listen: TCP, dag: small });
    const { dag } = expected(small);
    const client = await SyncClient.connect(await clientHost(), server.addr, none);
    const target = new MemoryStore();
    const summary = await fetchClosure(client, dag.root, target);
    expect(summary.blobs).toBe(31);
    for (const h of dag.hashes) expect(bytesEqual(hash(target.reader().get(h)!), h)).toBe(true);
    // Each level is one pipelined round: its CHILDREN request and its GET_BLOBS request.
    expect(summary.depth).toBe(3);
    expect(summary.requests).toBe(2 * summary.depth);
    expect((await server.stats())[OP_GET_BLOBS]).toBe(31); // nothing asked twice
    await client.close();
  }, 30_000);

  test("a level too wide to hold whole while it is discovered (its blob sizes are unknown) is downloaded after, in batches", async () => {
    const wide: DagShape = { depth: 1, fanout: 64, salt: 8 }; // levels of 1 and 64 blobs
    const server = await startServer({ seed: seed(10), listen: TCP, dag: wide });
    const { dag } = expected(wide);
    const client = await SyncClient.connect(await clientHost(), server.addr, none);
    const target = new MemoryStore();
    const summary = await fetchClosure(client, dag.root, target);
    expect(summary.blobs).toBe(65);
    // Past the pipelined rounds of discovery (CHILDREN and, for the root's level, GET_BLOBS), a
    // download round: 64 chunks of a large file asked in one speculative reply were 64 MiB held.
    expect(summary.depth).toBe(2);
    expect(summary.requests).toBeGreaterThan(2 * summary.depth);
    expect((await server.stats())[OP_GET_BLOBS]).toBe(65); // nothing asked twice
    await client.close();
  }, 30_000);

  test("a reply sized by a small blob that runs into large ones is stored as it arrives, within a small byte budget", async () => {
    // The last leaf (16 bytes) comes first in post-order: sized by it, the next request asks for
    // the other 39 leaves, 9.5 MiB in one reply, more than the 4 MiB this fetch may hold at once.
    const shape: DagShape = { depth: 1, fanout: 40, salt: 11, leafSize: 256 * 1024 };
    const server = await startServer({ seed: seed(12), listen: TCP, dag: shape });
    const { dag } = expected(shape);
    const client = await SyncClient.connect(await clientHost(), server.addr, none);
    const target = new MemoryStore();
    const summary = await fetchClosure(client, dag.root, target, { limits: { maxBufferedBytes: 4 << 20 } });
    expect(summary.blobs).toBe(41);
    expect(summary.dropped).toEqual([]);
    for (const h of dag.hashes) expect(bytesEqual(hash(target.reader().get(h)!), h)).toBe(true);
    await client.close();
  }, 30_000);

  test("nothing before AUTH; a refusing policy gives nothing", async () => {
    const server = await startServer({ seed: seed(2), listen: QUIC, dag: SHAPE });
    const { dag } = expected();
    const host = await clientHost();
    const v4Stream = () => host.dialProtocol(server.addr, PROTOCOL_V4);
    expect(await exchange(await v4Stream(), v4(OP_GET_BLOB, dag.root))).toEqual(new Uint8Array(0));
    expect(await exchange(await v4Stream(), v4(OP_CHILDREN, dag.root))).toEqual(new Uint8Array(0));
    const early = new Uint8Array([OP_GET_BLOBS, 0, 0, 0, 1, ...dag.root]);
    expect(await exchange(await host.dialProtocol(server.addr, PROTOCOL_V5), early)).toEqual(new Uint8Array(0));

    const refusing = await startServer({ seed: seed(3), listen: QUIC, dag: SHAPE, policy: "reject" });
    expect(await exchange(await host.dialProtocol(refusing.addr, PROTOCOL_V4), v4(OP_AUTH, new Uint8Array(32)))).toEqual(new Uint8Array([1]));
    expect(await exchange(await host.dialProtocol(refusing.addr, PROTOCOL_V4), v4(OP_GET_BLOB, dag.root))).toEqual(new Uint8Array(0));
    await expect(SyncClient.connect(host, refusing.addr, none)).rejects.toThrow(AuthRejectedError);
    const target = new MemoryStore();
    await expect(fetchFromPeers({ host, providers: [refusing.addr], credentials: none, head: dag.root, store: target })).rejects.toThrow(FetchFailedError);
    expect(target.reader().len).toBe(0);
    expect(await refusing.stats()).toEqual({});
  }, 30_000);

  test("out-of-scope blobs look missing, in both protocol versions", async () => {
    const server = await startServer({ seed: seed(4), listen: TCP, dag: SHAPE, policy: "first-subtree" });
    const { store, dag } = expected();
    const sub = firstChild(store, dag.root);
    const host = await clientHost();
    const authed = async (request: Uint8Array) => {
      // v4 AUTH binds the connection, so later v4 streams on it are authorized.
      expect(await exchange(await host.dialProtocol(server.addr, PROTOCOL_V4), v4(OP_AUTH, new Uint8Array(32)))).toEqual(new Uint8Array([0]));
      return exchange(await host.dialProtocol(server.addr, PROTOCOL_V4), request);
    };
    expect(await authed(v4(OP_GET_BLOB, dag.root))).toEqual(MISSING);
    expect(await authed(v4(OP_CHILDREN, dag.root))).toEqual(new Uint8Array(32));
    const subBytes = store.reader().get(sub)!;
    expect(await authed(v4(OP_GET_BLOB, sub))).toEqual(new Uint8Array([0, 0, 0, 0, 0, 0, 0, subBytes.length, ...subBytes]));

    const client = await SyncClient.connect(host, server.addr, none);
    expect(await client.getBlobs([dag.root, sub])).toEqual([null, subBytes]);
    expect((await client.children([dag.root]))[0]).toBeNull();
    const target = new MemoryStore();
    await expect(fetchClosure(client, dag.root, target)).rejects.toThrow(MissingBlobError);
    expect(target.reader().len).toBe(0);
    const summary = await fetchClosure(client, sub, target);
    const closure = closureOf(store.reader(), sub);
    expect(summary.blobs).toBe(closure.length);
    expectSound(target, closure, store);
  }, 30_000);

  test("malformed and oversized frames close that stream; the server keeps serving", async () => {
    const server = await startServer({ seed: seed(5), listen: QUIC, dag: SHAPE });
    const { dag } = expected();
    const host = await clientHost();
    const auth = [OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0];
    const cap = new Array(32).fill(1);
    // Frames that promise more than a bound allows: we never send the promised bytes and keep our
    // side open, so only the bound check ends the stream in time (see replyUntilAbort).
    const overLimit = [
      [...auth, 0x7f], // unknown op
      [...auth, OP_GET_BLOBS, 0xff, 0xff, 0xff, 0xff], // 4 billion hashes
      [OP_AUTH, ...cap, 0xff, 0xff, 0xff, 0xff], // 4 billion AUTH blobs
      [OP_AUTH, ...cap, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff], // a 2 GiB AUTH blob
    ];
    // Truncated frames end with the stream: these close our side.
    const truncated = [
      [...auth, OP_GET_BLOBS, 0, 0, 0, 3, 1, 2, 3], // truncated hash list
      [OP_AUTH, 1, 2, 3], // truncated AUTH
    ];
    for (const frame of [...overLimit, ...truncated]) {
      // A fresh connection each time (AUTH state is per connection); at most the AUTH status comes back.
      const probe = await createHost({ key: SigningKey.generate(), listen: [], dht: false });
      const stream = await probe.dialProtocol(server.addr, PROTOCOL_V5);
      const reply = overLimit.includes(frame) ? await replyUntilAbort(stream, new Uint8Array(frame)) : await exchange(stream, new Uint8Array(frame));
      expect(reply.length).toBeLessThanOrEqual(1);
      await probe.stop();
    }
    expect(await exchange(await host.dialProtocol(server.addr, PROTOCOL_V4), new Uint8Array([OP_GET_BLOB, 1, 2]))).toEqual(new Uint8Array(0));
    expect(await exchange(await host.dialProtocol(server.addr, PROTOCOL_V4), new Uint8Array([]))).toEqual(new Uint8Array(0));
    // Still serving, and still alive.
    const summary = await fetchClosure(await SyncClient.connect(host, server.addr, none), dag.root, new MemoryStore());
    expect(summary.blobs).toBe(dag.hashes.length);
    expect(await Promise.race([server.exited, Bun.sleep(50).then(() => "running")])).toBe("running");
  }, 30_000);

  test("a peer serving corrupted bytes is dropped; nothing of its data is stored; an honest peer completes the fetch", async () => {
    const { store, dag } = expected();
    const liar = await startServer({ seed: seed(6), listen: TCP, dag: SHAPE, corrupt: true });
    const host = await clientHost();
    const alone = new MemoryStore();
    await expect(fetchClosure(await SyncClient.connect(host, liar.addr, none), dag.root, alone)).rejects.toThrow(BadDataError);
    expect(alone.reader().has(dag.root)).toBe(false);
    expectSound(alone, dag.hashes, store);

    const honest = await startServer({ seed: seed(7), listen: QUIC, dag: SHAPE });
    const dropped: string[] = [];
    const target = new MemoryStore();
    const summary = await fetchFromPeers({
      host,
      providers: [liar.addr, honest.addr],
      credentials: none,
      head: dag.root,
      store: target,
      onPeerDropped: (peer) => dropped.push(peer),
    });
    expect(summary.peers).toBe(2);
    expect(dropped).toEqual([liar.info.peerId]);
    expect(target.reader().len).toBe(dag.hashes.length);
    expectSound(target, dag.hashes, store);
    expect((await liar.stats())[OP_GET_BLOBS]).toBeGreaterThan(0);
  }, 30_000);

  test("two honest peers share the download", async () => {
    const { store, dag } = expected({ depth: 3, fanout: 12, salt: 2 }); // 1,885 blobs
    const shape = { depth: 3, fanout: 12, salt: 2 };
    const [a, b] = await Promise.all([startServer({ seed: seed(8), listen: TCP, dag: shape }), startServer({ seed: seed(9), listen: QUIC, dag: shape })]);
    const target = new MemoryStore();
    const summary = await fetchFromPeers({ host: await clientHost(), providers: [a.addr, b.addr], credentials: none, head: dag.root, store: target, batch: 64 });
    expect(summary.blobs).toBe(dag.hashes.length);
    expectSound(target, dag.hashes, store);
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect(sa[OP_GET_BLOBS]).toBeGreaterThan(0);
    expect(sb[OP_GET_BLOBS]).toBeGreaterThan(0);
    // Each blob was asked for once, from one of the two.
    expect(sa[OP_GET_BLOBS]! + sb[OP_GET_BLOBS]!).toBe(dag.hashes.length);
  }, 30_000);

  for (const [transport, listen] of [
    ["TCP", TCP],
    ["QUIC", QUIC],
  ] as const) {
    test(`a server killed mid-fetch over ${transport}: the fetch resumes without asking again for stored blobs`, async () => {
      const { store, dag } = expected();
      const config = { seed: seed(10), listen, dag: SHAPE };
      const first = await startServer(config);
      const host = await clientHost();
      const target = new MemoryStore();
      let killed = false;
      const attempt = fetchClosure(await SyncClient.connect(host, first.addr, none), dag.root, target, {
        batch: 20,
        window: 1,
        stallMs: 1500,
        onProgress: (p) => {
          if (p.stored >= 200 && !killed) {
            killed = true;
            first.kill();
          }
        },
      });
      await expect(attempt).rejects.toThrow();
      await first.exited;
      const kept = target.reader().len;
      expect(kept).toBeGreaterThanOrEqual(200);
      expect(kept).toBeLessThan(dag.hashes.length);
      expectSound(target, dag.hashes, store); // only whole sub-closures were kept

      const second = await startServer(config);
      const summary = await fetchClosure(await SyncClient.connect(host, second.addr, none), dag.root, target);
      expect(summary.blobs).toBe(dag.hashes.length - kept);
      expect(target.reader().len).toBe(dag.hashes.length);
      expect((await second.stats())[OP_GET_BLOBS]).toBe(dag.hashes.length - kept);
    }, 30_000);
  }

  test("providers come from the DHT, then the publisher", async () => {
    const { store, dag } = expected();
    const relay = await startServer({ seed: seed(11), listen: TCP, dht: { peers: [] } });
    const holder = await startServer({ seed: seed(12), listen: TCP, dag: SHAPE, dht: { peers: [relay.info.addrs[0]!] } });
    const host = await clientHost({ dht: true });
    await host.dial(relay.addr);
    const publisher = peerIdFromString(relay.info.peerId);
    let providers: Awaited<ReturnType<typeof providersFor>> = [];
    for (let tries = 0; tries < 50 && providers.length < 2; tries++) {
      providers = await providersFor(host, dag.root, publisher, { timeoutMs: 2000 });
      if (providers.length < 2) await Bun.sleep(100);
    }
    expect(providers.map(String)).toEqual([holder.info.peerId, relay.info.peerId]);
    // The relay holds nothing; the holder serves everything.
    const target = new MemoryStore();
    const summary = await fetchFromPeers({ host, providers, credentials: none, head: dag.root, store: target });
    expect(summary.blobs).toBe(dag.hashes.length);
    expectSound(target, dag.hashes, store);
  }, 30_000);
});
