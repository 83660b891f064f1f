/**
 * The server's work budget (src/net/budget.ts): a long request runs in slices, so another peer is
 * answered while it runs, and it is abandoned once its stream is gone.
 */
import { expect, test } from "bun:test";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { Lane, WorkMeter } from "../../src/net/budget.ts";
import { SyncClient } from "../../src/net/client.ts";
import { childrenMetered, OP_AUTH, OP_CHILDREN_MANY, openPolicy, PROTOCOL_V5, SyncServer } from "../../src/net/protocol.ts";
import { PROGRESS_FLUSH_BYTES } from "../../src/net/server/children.ts";
import type { Scope } from "../../src/net/server/policy.ts";
import { u32 } from "../../src/net/stream-io.ts";
import { useHosts } from "./fixtures/hosts.ts";
import { until } from "./fixtures/until.ts";

const host = useHosts();

const none = { capHandle: new Uint8Array(32), chain: [] };

test("a peer is answered while another's long CHILDREN_MANY runs; the long one stops when its stream goes", async () => {
  // 64 distinct 1 MiB blobs: a CHILDREN_MANY naming them all scans 64 MiB.
  const store = new MemoryStore();
  const parents = Array.from({ length: 64 }, (_, i) => {
    const blob = new Uint8Array(1 << 20);
    blob.fill(i + 1);
    blob.set(crypto.getRandomValues(new Uint8Array(64)));
    return store.put(blob);
  });
  const victim = await host(["/ip4/127.0.0.1/tcp/0"]);
  const errors: Error[] = [];
  let longDone = 0;
  await new SyncServer(victim, store, openPolicy, {
    onError: (_peer, err) => errors.push(err),
    onRequest: (op) => {
      if (op === OP_CHILDREN_MANY) longDone++;
    },
  }).start();
  const addr = victim.getMultiaddrs()[0]!;

  // The heavy peer sends AUTH and 16 such requests in one go, then reads nothing.
  const REQUESTS = 16;
  const request = new Uint8Array(5 + parents.length * 32);
  request[0] = OP_CHILDREN_MANY;
  request.set(u32(parents.length), 1);
  parents.forEach((p, i) => {
    request.set(p, 5 + i * 32);
  });
  const heavy = await (await host()).dialProtocol(addr, PROTOCOL_V5);
  heavy.send(Buffer.concat([new Uint8Array([OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0]), ...Array.from({ length: REQUESTS }, () => request)]));

  // Another peer connects meanwhile and is answered before the heavy peer's requests are through.
  const other = await SyncClient.connect(await host(), addr, none);
  expect(await other.heads()).toEqual([]);
  expect(longDone).toBeLessThan(REQUESTS);

  // The heavy peer leaves: what it still asked for is abandoned, not computed to the end.
  heavy.abort(new Error("gone"));
  await until(() => errors.some((e) => e.name === "RequestAbandoned"), 10_000);
  expect(longDone).toBeLessThan(REQUESTS);
}, 30_000);

test("a CHILDREN_MANY over many large parents sends its answers as it goes, not only at the end (the asker's idle deadline)", async () => {
  // 64 distinct 1 MiB leaves: 64 MiB to scan, and a reply of 64 empty lists (4 bytes each).
  const store = new MemoryStore();
  const parents = Array.from({ length: 64 }, (_, i) => {
    const blob = new Uint8Array(1 << 20);
    blob.fill(i + 1);
    return store.put(blob);
  });
  const victim = await host(["/ip4/127.0.0.1/tcp/0"]);
  await new SyncServer(victim, store, openPolicy).start();
  const request = new Uint8Array(5 + parents.length * 32);
  request[0] = OP_CHILDREN_MANY;
  request.set(u32(parents.length), 1);
  parents.forEach((p, i) => {
    request.set(p, 5 + i * 32);
  });
  const stream = await (await host()).dialProtocol(victim.getMultiaddrs()[0]!, PROTOCOL_V5);
  stream.send(Buffer.concat([new Uint8Array([OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0]), request]));
  // One byte answers AUTH; then the lists, in more than one message: the first holds the answers
  // for the first PROGRESS_FLUSH_BYTES of parents scanned.
  const sizes: number[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    sizes.push(bytes.length);
    total += bytes.length;
    if (total >= 1 + 64 * 4) break;
  }
  expect(total).toBe(1 + 64 * 4);
  const perFlush = (PROGRESS_FLUSH_BYTES / (1 << 20)) * 4;
  expect(sizes.length).toBeGreaterThan(2);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(1 + perFlush);
}, 30_000);

test("a meter is awaited only at a slice's end, and a parent scanned within a slice is listed at once", async () => {
  const lane = new Lane();
  await lane.acquire();
  const stream = { status: "open", writeStatus: "writable" } as unknown as ConstructorParameters<typeof WorkMeter>[0];
  const meter = new WorkMeter(stream, lane, 10_000);
  // Nothing to wait for inside a slice: no promise (serving a blob costs no async step).
  expect(meter.spend(4_000)).toBeUndefined();
  expect(meter.spend(5_000)).toBeUndefined();
  const turn = meter.spend(2_000);
  expect(turn).toBeInstanceOf(Promise);
  await turn;

  const store = new MemoryStore();
  const child = store.put(new Uint8Array([1, 2, 3]));
  const parent = store.put(new Uint8Array([...child, ...new Uint8Array(40)]));
  const scope = await openPolicy.authorize({} as never);
  const listed = childrenMetered(store.reader(), scope as Scope, parent, true, meter);
  expect(listed).toEqual([child]);
  // A parent larger than a slice is scanned in slices, with turns off between them.
  const large = store.put(new Uint8Array([...child, ...new Uint8Array(30_000)]));
  const sliced = childrenMetered(store.reader(), scope as Scope, large, true, meter);
  expect(sliced).toBeInstanceOf(Promise);
  expect(await sliced).toEqual([child]);
});
