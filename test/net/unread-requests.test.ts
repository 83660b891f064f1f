/**
 * Requests a member pipelines faster than it reads the replies: the server stops reading the
 * stream (stream-io.ts, BoundedSource) once SERVER_BUDGET.maxUnreadBytes wait unread, and the
 * member's transport stops sending, so the excess stays in the member's own send buffer. An honest
 * client that pipelines as much and does read still gets every reply (pause and resume).
 */
import { expect, test } from "bun:test";
import type { Stream } from "@libp2p/interface";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { SERVER_BUDGET } from "../../src/net/budget.ts";
import type { Host } from "../../src/net/host.ts";
import { ABSENT_PARENT, AUTH_OK, OP_AUTH, OP_CHILDREN_MANY, OP_GET_BLOBS, openPolicy, PROTOCOL_V5, SyncServer } from "../../src/net/protocol.ts";
import { loadQuic } from "../../src/net/quic.ts";
import { SEND_HIGH_WATER, StreamReader, u32 } from "../../src/net/stream-io.ts";
import { useHosts } from "./fixtures/hosts.ts";
import { until } from "./fixtures/until.ts";

const host = useHosts();

const AUTH_NONE = new Uint8Array([OP_AUTH, ...new Uint8Array(32), 0, 0, 0, 0]);

/** A batch request naming `target` `count` times. */
function request(op: number, target: Uint8Array, count: number): Uint8Array {
  const frame = new Uint8Array(5 + count * 32);
  frame[0] = op;
  frame.set(u32(count), 1);
  for (let i = 0; i < count; i++) frame.set(target, 5 + i * 32);
  return frame;
}

/**
 * Counts the bytes the server's transport delivers on its one pile-sync stream (a listener beside
 * the server's own); resolves once all `sent` arrived or the count has not grown for 1 s.
 */
async function deliveredToServer(server: Host, sent: number, ms = 20_000): Promise<{ delivered: number; stream: Stream }> {
  const deadline = Date.now() + ms;
  const served = () => server.getConnections()[0]?.streams.find((s) => s.protocol === PROTOCOL_V5);
  await until(() => served() !== undefined, ms);
  const stream = served()!;
  let delivered = 0;
  stream.addEventListener("message", (evt) => {
    delivered += evt.data.byteLength;
  });
  let last = -1;
  let still = 0;
  while (delivered < sent && still < 10) {
    if (Date.now() > deadline) throw new Error("still receiving");
    await Bun.sleep(100);
    still = delivered > last ? 0 : still + 1;
    last = delivered;
  }
  return { delivered, stream };
}

const transports = [
  { name: "TCP", listen: "/ip4/127.0.0.1/tcp/0" },
  { name: "QUIC", listen: "/ip4/127.0.0.1/udp/0/quic-v1" },
];

/** Request bytes sent ahead: 256 frames of 4096 hashes, 32 MiB. */
const PIPELINED = 256;

for (const { name, listen } of transports) {
  test(`${name}: a member that pipelines 32 MiB of requests and reads nothing makes the server take only a bounded part`, async () => {
    if (name === "QUIC" && !(await loadQuic()).ok) return;
    const store = new MemoryStore();
    const big = store.put(crypto.getRandomValues(new Uint8Array(1 << 20)));
    const victim = await host([listen]);
    await new SyncServer(victim, store, openPolicy).start();
    const attacker = await (await host()).dialProtocol(victim.getMultiaddrs()[0]!, PROTOCOL_V5);
    // Reads nothing, and holds the server's reply back (unpaused, libp2p would buffer the reply
    // until its read-buffer limit and then abort the stream, taking the queued requests with it).
    attacker.pause();
    // The first request's 64 MiB reply is never read, so the server is busy writing it; every
    // request after it waits unread.
    const rest = request(OP_GET_BLOBS, big, 4096);
    const sent = AUTH_NONE.length + 5 + 64 * 32 + PIPELINED * rest.length;
    attacker.send(Buffer.concat([AUTH_NONE, request(OP_GET_BLOBS, big, 64), ...Array.from({ length: PIPELINED }, () => rest)]));
    const { delivered: taken, stream: served } = await deliveredToServer(victim, sent);
    console.log(`${name}: the server's stream received ${(taken / 2 ** 20).toFixed(1)} of ${(sent / 2 ** 20).toFixed(1)} MiB in`);
    // The server's unread bound and the frame it is answering, plus one transport read or window.
    expect(attacker.status).toBe("open");
    expect(taken).toBeLessThan(SERVER_BUDGET.maxUnreadBytes + 6 * 2 ** 20);
    // And the reply it is writing stays queued up to the high-water mark and one blob, not more.
    expect(served.writeBufferLength).toBeLessThanOrEqual(SEND_HIGH_WATER + (1 << 20));
    attacker.abort(new Error("done"));
  }, 60_000);

  test(`${name}: an honest client that pipelines 32 MiB of requests and reads the replies gets all of them`, async () => {
    if (name === "QUIC" && !(await loadQuic()).ok) return;
    const victim = await host([listen]);
    await new SyncServer(victim, new MemoryStore(), openPolicy).start();
    const client = await (await host()).dialProtocol(victim.getMultiaddrs()[0]!, PROTOCOL_V5);
    const reader = new StreamReader(client);
    const absent = crypto.getRandomValues(new Uint8Array(32));
    const frame = request(OP_CHILDREN_MANY, absent, 4096);
    client.send(Buffer.concat([AUTH_NONE, ...Array.from({ length: PIPELINED }, () => frame)]));
    expect(await reader.readU8()).toBe(AUTH_OK);
    for (let r = 0; r < PIPELINED; r++) {
      for (let i = 0; i < 4096; i++) expect(reader.takeU32() ?? (await reader.readU32())).toBe(ABSENT_PARENT);
    }
    await client.close();
  }, 60_000);
}
