/**
 * OP_CLOSURE (v5): a small missing closure in one round trip, against server processes
 * (fixtures/serve.ts) and, for the lies an honest server never tells, a fake server on a real
 * socket in this process. The fetch falls back to CHILDREN_MANY/GET_BLOBS whenever it must.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Stream } from "@libp2p/interface";
import { hash } from "../../src/core/blake3.ts";
import { bytesEqual, toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { HashIndex } from "../../src/core/hash-index.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { BlobReader, Hash } from "../../src/core/store.ts";
import { SyncClient } from "../../src/net/client.ts";
import { BadDataError, fetchClosure, reachableInPostOrder } from "../../src/net/fetch.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { AUTH_OK, CLOSURE_END, missingClosure, OP_AUTH, OP_CHILDREN_MANY, OP_CLOSURE, OP_GET_BLOBS, PROTOCOL_V5 } from "../../src/net/protocol.ts";
import { sendAll, StreamReader, u64 } from "../../src/net/stream-io.ts";
import { buildDag, closureOf, type DagShape, firstChild } from "./dag.ts";
import { killServers, QUIC, startServer, TCP } from "./server-process.ts";

/** Levels of 1, 5 and 25 blobs, about 340 KB: within the closure budget. */
const SMALL: DagShape = { depth: 2, fanout: 5, salt: 21 };
/** 781 blobs, about 1.3 MB: over it. */
const LARGE: DagShape = { depth: 4, fanout: 5, salt: 22 };
const none = { capHandle: new Uint8Array(32), chain: [] };
const seed = (n: number) => (0x40 + n).toString(16).padStart(2, "0").repeat(32);

const hosts: Host[] = [];
afterEach(async () => {
  killServers();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function newHost(listen: string[] = []): Promise<Host> {
  const h = await createHost({ key: SigningKey.generate(), listen, dht: false });
  hosts.push(h);
  return h;
}

function expected(shape: DagShape) {
  const store = new MemoryStore();
  return { store, dag: buildDag(store, shape) };
}

const hexes = (hashes: Iterable<Hash>) => [...hashes].map(toHex).sort();

/** Every stored blob hashes to its key and has its whole closure (in `source`) stored. */
function expectClosed(target: MemoryStore, source: BlobReader): void {
  const reader = target.reader();
  for (const h of reader.list()) {
    expect(bytesEqual(hash(reader.get(h)!), h)).toBe(true);
    for (const below of closureOf(source, h)) expect(reader.has(below)).toBe(true);
  }
}

/** The blobs reachable from `root` without passing through a `have` hash. */
function closureWithout(reader: BlobReader, root: Hash, have: Hash[]): Hash[] {
  const stop = new HashIndex(16);
  for (const h of have) stop.insert(h);
  const seen = new HashIndex(64);
  const out: Hash[] = [];
  const stack = [root];
  while (stack.length) {
    const h = stack.pop()!;
    if (!reader.has(h) || stop.find(h) >= 0 || !seen.insert(h).added) continue;
    out.push(h);
    const bytes = reader.get(h)!;
    for (let at = 0; at + 32 <= bytes.length; at += 32) stack.push(bytes.slice(at, at + 32));
  }
  return out;
}

describe("one-request closure", () => {
  for (const [transport, listen] of [
    ["QUIC", QUIC],
    ["TCP", TCP],
  ] as const) {
    test(`a small closure arrives in one request over ${transport}, as the level-by-level fetch stores it`, async () => {
      const server = await startServer({ seed: seed(1), listen, dag: SMALL });
      const { store, dag } = expected(SMALL);
      const client = await SyncClient.connect(await newHost(), server.addr, none);
      const target = new MemoryStore();
      const summary = await fetchClosure(client, dag.root, target, { have: [] });
      expect(summary).toMatchObject({ blobs: dag.hashes.length, requests: 1, depth: 0 });
      expect(await server.stats()).toEqual({ [OP_CLOSURE]: 1 });
      const plain = new MemoryStore();
      await fetchClosure(client, dag.root, plain);
      expect(hexes(target.reader().list())).toEqual(hexes(plain.reader().list()));
      expectClosed(target, store.reader());
      await client.close();
    }, 30_000);
  }

  test("nothing under a have-hash is sent; children come before parents", async () => {
    const server = await startServer({ seed: seed(2), listen: TCP, dag: SMALL });
    const { store, dag } = expected(SMALL);
    const client = await SyncClient.connect(await newHost(), server.addr, none);
    const sub = firstChild(store, dag.root);
    const received = (await client.closure(dag.root, [sub], 1 << 20))!;
    const names = received.map((r) => r.hash);
    expect(hexes(names)).toEqual(hexes(closureWithout(store.reader(), dag.root, [sub])));
    expect(names.some((h) => bytesEqual(h, sub))).toBe(false);
    const position = new Map(names.map((h, i) => [toHex(h), i]));
    names.forEach((h, i) => {
      const bytes = store.reader().get(h)!;
      for (let at = 0; at + 32 <= bytes.length; at += 32) expect(position.get(toHex(bytes.subarray(at, at + 32))) ?? -1).toBeLessThan(i);
    });
    expect(names.at(-1)).toEqual(dag.root);

    // A receiver that holds the subtree gets the rest in that one request.
    const target = new MemoryStore();
    await fetchClosure(client, sub, target);
    const before = await server.stats();
    const summary = await fetchClosure(client, dag.root, target, { have: [sub] });
    expect(summary.requests).toBe(1);
    expect(summary.blobs).toBe(dag.hashes.length - closureOf(store.reader(), sub).length);
    const after = await server.stats();
    expect(after[OP_CLOSURE]).toBe((before[OP_CLOSURE] ?? 0) + 1);
    expect([after[OP_CHILDREN_MANY], after[OP_GET_BLOBS]]).toEqual([before[OP_CHILDREN_MANY], before[OP_GET_BLOBS]]);
    expect(target.reader().len).toBe(dag.hashes.length);
    expectClosed(target, store.reader());
    // A have-hash the receiver does not hold is not passed on: it could not prune what we lack.
    const fresh = new MemoryStore();
    await fetchClosure(client, dag.root, fresh, { have: [sub] });
    expect(fresh.reader().len).toBe(dag.hashes.length);
    await client.close();
  }, 30_000);

  test("a closure over the budget comes back empty; the fetch completes level by level, closed downwards", async () => {
    const server = await startServer({ seed: seed(3), listen: QUIC, dag: LARGE });
    const { store, dag } = expected(LARGE);
    const client = await SyncClient.connect(await newHost(), server.addr, none);
    expect(await client.closure(dag.root, [], 1 << 20)).toEqual([]);
    expect(await client.closure(firstChild(store, dag.root), [], 1000)).toEqual([]);
    const target = new MemoryStore();
    const summary = await fetchClosure(client, dag.root, target, { have: [] });
    expect(summary.blobs).toBe(dag.hashes.length);
    const stats = await server.stats();
    expect(stats[OP_CLOSURE]).toBe(3);
    expect(stats[OP_GET_BLOBS]).toBe(dag.hashes.length);
    expectClosed(target, store.reader());
    expect(client.closureSupported).toBe(true);
    await client.close();
  }, 30_000);

  test("a received closure without its root, or with unreachable blobs, stores only what the root reaches", () => {
    const { store, dag } = expected(SMALL);
    const reader = store.reader();
    const all = missingClosure(reader, { inScope: () => true }, dag.root, new HashIndex(16), 1 << 20)!;
    const records = all.map((h) => ({ hash: h, bytes: reader.get(h)! }));
    expect(reachableInPostOrder(dag.root, records.slice(0, -1), new MemoryStore().reader()).blobs).toEqual([]);
    const stray = new TextEncoder().encode("not referenced by anything");
    const reversed = [{ hash: hash(stray), bytes: stray }, ...records].reverse(); // parents first
    const { hashes } = reachableInPostOrder(dag.root, reversed, new MemoryStore().reader());
    expect(hexes(hashes)).toEqual(hexes(dag.hashes));
    const seen = new Set<string>();
    for (const h of hashes) {
      const bytes = reader.get(h)!;
      for (let at = 0; at + 32 <= bytes.length; at += 32) {
        const chunk = toHex(bytes.subarray(at, at + 32));
        if (reader.has(bytes.subarray(at, at + 32))) expect(seen.has(chunk)).toBe(true);
      }
      seen.add(toHex(h));
    }
  });

  test("a lying server: wrong bytes are dropped like in the download, stray blobs are not stored", async () => {
    const { store, dag } = expected(SMALL);
    const liar = await startServer({ seed: seed(4), listen: TCP, dag: SMALL, corrupt: true });
    const host = await newHost();
    const target = new MemoryStore();
    await expect(fetchClosure(await SyncClient.connect(host, liar.addr, none), dag.root, target, { have: [] })).rejects.toThrow(BadDataError);
    expect(target.reader().len).toBe(0);
    expect(await liar.stats()).toEqual({ [OP_CLOSURE]: 1 });

    // A fake server that sends the closure parents first, plus a blob nothing references.
    const stray = new TextEncoder().encode("stray blob");
    const fake = await fakeServer((root) => {
      const order = missingClosure(store.reader(), { inScope: () => true }, root, new HashIndex(16), 1 << 20) ?? [];
      return [...order.reverse().map((h) => ({ hash: h, bytes: store.reader().get(h)! })), { hash: hash(stray), bytes: stray }];
    });
    const summary = await fetchClosure(await SyncClient.connect(host, fake.addr, none), dag.root, target, { have: [] });
    expect(summary).toMatchObject({ blobs: dag.hashes.length, requests: 1 });
    expect(hexes(target.reader().list())).toEqual(hexes(dag.hashes));
    expectClosed(target, store.reader());
  }, 30_000);

  test("a server without the op: the fetch falls back on the same client, which stops asking", async () => {
    const server = await startServer({ seed: seed(5), listen: QUIC, dag: SMALL, withoutOps: [OP_CLOSURE] });
    const { store, dag } = expected(SMALL);
    const client = await SyncClient.connect(await newHost(), server.addr, none);
    const target = new MemoryStore();
    const summary = await fetchClosure(client, dag.root, target, { have: [] });
    expect(summary.blobs).toBe(dag.hashes.length);
    expect(summary.dropped).toEqual([]);
    expect(client.closureSupported).toBe(false);
    expect(client.isOpen).toBe(true);
    expectClosed(target, store.reader());
    const stats = await server.stats();
    expect(stats[OP_CLOSURE]).toBeUndefined();
    expect(stats[OP_GET_BLOBS]).toBe(dag.hashes.length);
    await client.close();
  }, 30_000);
});

/**
 * A v5 server on a real TCP socket that accepts any AUTH and answers CLOSURE with `reply(root)`
 * (hashes as given, unchecked); any other op aborts the stream.
 */
async function fakeServer(reply: (root: Hash) => { hash: Hash; bytes: Uint8Array }[]) {
  const host = await newHost(TCP);
  await host.handle(PROTOCOL_V5, (stream: Stream) => {
    void (async () => {
      const reader = new StreamReader(stream);
      try {
        while (!(await reader.atEnd())) {
          const op = await reader.readU8();
          if (op === OP_AUTH) {
            await reader.readExactly(32);
            const blobs = await reader.readU32();
            for (let i = 0; i < blobs; i++) await reader.readExactly(await reader.readU32());
            await sendAll(stream, new Uint8Array([AUTH_OK]));
          } else if (op === OP_CLOSURE) {
            const root = (await reader.readExactly(32)).slice();
            await reader.readExactly((await reader.readU32()) * 32 + 4);
            for (const { hash: h, bytes } of reply(root)) await sendAll(stream, new Uint8Array([...h, ...u64(bytes.length), ...bytes]));
            await sendAll(stream, CLOSURE_END);
          } else throw new Error("unsupported");
        }
        await stream.close();
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
    })();
  });
  return { addr: host.getMultiaddrs()[0]! };
}
