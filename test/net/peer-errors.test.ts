/**
 * What a sync node's server holds against a peer reaches the node's events, named by peer, and
 * never floods them (error-digest.ts); the serving limits are options of the node.
 */
import { afterEach, expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { ErrorDigest, type ErrorDigestLine } from "../../src/net/error-digest.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { OP_GET_BLOBS, openPolicy, PROTOCOL_V5 } from "../../src/net/protocol.ts";
import { type SyncEvent, SyncNode } from "../../src/net/sync.ts";
import { until } from "./fixtures/until.ts";

const hosts: Host[] = [];
const nodes: SyncNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

const none = { capHandle: new Uint8Array(32), chain: [] };

test("ErrorDigest: one line per peer per interval, then one with the count; past the cap one line for all the rest", () => {
  const lines: ErrorDigestLine[] = [];
  const digest = new ErrorDigest((line) => lines.push(line), 60_000, 4);
  for (let i = 0; i < 1000; i++) digest.add("peer-a", `error ${i}`);
  for (let p = 0; p < 100; p++) digest.add(`stranger-${p}`, "closed");
  expect(lines).toEqual([
    { peer: "peer-a", error: "error 0", count: 1 },
    { peer: "stranger-0", error: "closed", count: 1 },
    { peer: "stranger-1", error: "closed", count: 1 },
    { peer: "stranger-2", error: "closed", count: 1 },
  ]);
  digest.flush();
  expect(lines.slice(4)).toEqual([
    { peer: "peer-a", error: "error 999", count: 999 },
    { error: "errors from further peers", count: 97, peers: 97 },
  ]);
  // The next interval starts afresh.
  digest.add("peer-a", "again");
  expect(lines.at(-1)).toEqual({ peer: "peer-a", error: "again", count: 1 });
  digest.stop();
});

test("a member's protocol errors and budget overruns are peer-error events naming it, rate limited", async () => {
  const key = SigningKey.generate();
  const events: SyncEvent[] = [];
  const node = await SyncNode.start({
    store: new MemoryStore(),
    key,
    teamRoot: key.publicKey,
    credentials: none,
    policy: openPolicy,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    dht: false,
    // A serving limit set through the node: one stream per connection.
    server: { budget: { v5StreamsPerConnection: 1 } },
    peerErrorIntervalMs: 60_000,
    onEvent: (e) => events.push(e),
  });
  nodes.push(node);
  const rude = await createHost({ key: SigningKey.generate(), listen: [], dht: false });
  hosts.push(rude);
  const addr = node.host.getMultiaddrs()[0]!;
  // Fifty requests before any AUTH, each on a fresh stream: each is a protocol error.
  for (let i = 0; i < 50; i++) {
    const stream = await rude.dialProtocol(addr, PROTOCOL_V5);
    stream.send(new Uint8Array([OP_GET_BLOBS, 0, 0, 0, 0]));
    await until(() => stream.status !== "open", 5000);
  }
  const errors = () => events.filter((e): e is Extract<SyncEvent, { type: "peer-error" }> => e.type === "peer-error");
  await until(() => errors().length > 0, 5000);
  expect(errors()).toHaveLength(1);
  expect(errors()[0]!.peer).toBe(rude.peerId.toString());
  expect(errors()[0]!.error).toContain("request before a successful AUTH");
  // The node's own limit holds: a second stream at once on the connection is refused.
  const first = await rude.dialProtocol(addr, PROTOCOL_V5);
  const second = await rude.dialProtocol(addr, PROTOCOL_V5).catch(() => undefined);
  await until(() => second === undefined || second.status !== "open", 5000);
  expect(first.status).toBe("open");
  first.abort(new Error("done"));
}, 30_000);

test("serving limits given to a node are checked", async () => {
  const key = SigningKey.generate();
  await expect(
    SyncNode.start({ store: new MemoryStore(), key, teamRoot: key.publicKey, credentials: none, policy: openPolicy, listen: ["/ip4/127.0.0.1/tcp/0"], dht: false, server: { budget: { frameMs: 0 } } }),
  ).rejects.toThrow("budget.frameMs must be a positive whole number, got 0");
}, 30_000);
