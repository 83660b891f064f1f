/**
 * Every v5 op that reads the store needs a grant on the connection (server/*.ts through
 * `requireScope`): without a successful AUTH, a well-formed request gets no byte back and its
 * stream is aborted; after AUTH, the very same frame is answered.
 */
import { describe, expect, test } from "bun:test";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { MemoryStore } from "../../src/core/memory-store.ts";
import type { Host } from "../../src/net/host.ts";
import { openPolicy, SyncServer } from "../../src/net/protocol.ts";
import { StreamReader } from "../../src/net/stream-io.ts";
import { OP_AUTH, OP_CHAIN, OP_CHILDREN_MANY, OP_CLOSURE, OP_GET_BLOBS, OP_HEADS, OP_REVOCATIONS, PROTOCOL_V5 } from "../../src/net/wire.ts";
import { useHosts } from "./fixtures/hosts.ts";
import { until } from "./fixtures/until.ts";

const host = useHosts();
const TCP = ["/ip4/127.0.0.1/tcp/0"];
const addrOf = (h: Host) => multiaddr(h.getMultiaddrs()[0]!.toString());
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Sends `frame`, closes our side, and counts the bytes the server sends before its side ends (bounded). */
async function exchange(stream: Stream, frame: Uint8Array): Promise<number> {
  stream.send(frame);
  await stream.close().catch(() => undefined);
  const reader = new StreamReader(stream);
  let received = 0;
  const read = (async () => {
    try {
      while (!(await reader.atEnd())) received += (await reader.readExactly(1)).length;
    } catch {}
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the server neither answered nor ended the stream")), 10_000);
  });
  await Promise.race([read, bound]).finally(() => clearTimeout(timer));
  return received;
}

describe("requests before a successful AUTH", () => {
  test("each op that reads the store is refused without a grant and answered with one", async () => {
    const store = new MemoryStore();
    const blob = store.put(new TextEncoder().encode("a blob"));
    const server = await host(TCP);
    const errors: string[] = [];
    await new SyncServer(server, store, openPolicy, { onError: (_peer, err) => errors.push(err.message) }, { admission: { authDeadlineMs: 60_000 } }).start();
    const auth = [OP_AUTH, ...new Uint8Array(32), ...u32(0)];
    const frames: [string, number[]][] = [
      ["GET_BLOBS", [OP_GET_BLOBS, ...u32(1), ...blob]],
      ["CHILDREN_MANY", [OP_CHILDREN_MANY, ...u32(1), ...blob]],
      ["HEADS", [OP_HEADS]],
      ["CLOSURE", [OP_CLOSURE, ...blob, ...u32(0), ...u32(1 << 16)]],
      ["REVOCATIONS", [OP_REVOCATIONS, ...u32(0)]],
      ["CHAIN", [OP_CHAIN, ...new Uint8Array(32)]],
    ];
    for (const [name, frame] of frames) {
      const before = errors.length;
      const client = await host();
      const refused = await exchange(await client.dialProtocol(addrOf(server), PROTOCOL_V5), new Uint8Array(frame));
      expect({ name, refused }).toEqual({ name, refused: 0 });
      await until(() => errors.length > before, 5000);
      expect(errors.slice(before)).toEqual(["request before a successful AUTH"]);
      // The same frame after AUTH, on another connection: the AUTH status byte and an answer.
      const answered = await exchange(await (await host()).dialProtocol(addrOf(server), PROTOCOL_V5), new Uint8Array([...auth, ...frame]));
      expect({ name, answered: answered > 1 }).toEqual({ name, answered: true });
    }
  }, 60_000);
});
