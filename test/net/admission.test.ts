/**
 * Strangers (inbound connections with no successful pile-sync AUTH) are closed after a deadline
 * and capped per IP, whatever their streams do; members stay.
 */
import { expect, test } from "bun:test";
import type { Connection } from "@libp2p/interface";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { SyncClient } from "../../src/net/client.ts";
import { OP_AUTH, openPolicy, PROTOCOL_V5, SyncServer } from "../../src/net/protocol.ts";
import { useHosts } from "./fixtures/hosts.ts";
import { until } from "./fixtures/until.ts";

const host = useHosts();

const none = { capHandle: new Uint8Array(32), chain: [] };

test("a stranger with a half-open and a slow stream is closed at the AUTH deadline; a member stays", async () => {
  const victim = await host(["/ip4/127.0.0.1/tcp/0"]);
  const closed: string[] = [];
  const server = new SyncServer(victim, new MemoryStore(), openPolicy, { onStrangerClosed: (_peer, reason) => closed.push(reason) }, { admission: { authDeadlineMs: 500 } });
  await server.start();
  const addr = victim.getMultiaddrs()[0]!;
  const member = await SyncClient.connect(await host(), addr, none);
  const stranger = await (await host()).dial(addr);
  const halfOpen = await stranger.newStream(PROTOCOL_V5);
  const slow = await stranger.newStream(PROTOCOL_V5);
  slow.send(new Uint8Array([OP_AUTH])); // and nothing more
  await until(() => stranger.status !== "open", 5000);
  expect(halfOpen.status).not.toBe("open");
  expect(closed).toEqual(["no pile-sync AUTH within 0.5 s"]);
  expect(member.isOpen).toBe(true);
  expect((await member.heads()).length).toBe(0);
  await member.close();
}, 15_000);

test("strangers past the per-IP cap close the oldest first; a member connects through them", async () => {
  const victim = await host(["/ip4/127.0.0.1/tcp/0"]);
  const server = new SyncServer(victim, new MemoryStore(), openPolicy, {}, { admission: { authDeadlineMs: 60_000, maxStrangersPerIp: 3, maxStrangers: 8 } });
  await server.start();
  const addr = victim.getMultiaddrs()[0]!;
  const strangers: Connection[] = [];
  for (let i = 0; i < 5; i++) {
    strangers.push(await (await host()).dial(addr));
    await until(() => server.strangerCount === Math.min(i + 1, 3) && victim.getConnections().length === Math.min(i + 1, 3));
  }
  await until(() => strangers.filter((c) => c.status === "open").length === 3);
  expect(strangers.slice(0, 2).map((c) => c.status)).not.toContain("open");
  const member = await SyncClient.connect(await host(), addr, none);
  expect(member.isOpen).toBe(true);
  await until(() => server.strangerCount === 2);
}, 15_000);
