/**
 * Stalled handshakes from one IP address (handshake-gate.ts): past MAX_PENDING_HANDSHAKES_PER_IP
 * pending at once, a new connection from that address is refused at once instead of holding one
 * of libp2p's shared pending slots for the upgrade timeout; a slot is free again when its
 * connection closes.
 */
import { afterEach, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { SyncClient } from "../../src/net/client.ts";
import { createHost, type Host, MAX_PENDING_HANDSHAKES_PER_IP } from "../../src/net/host.ts";
import { openPolicy, SyncServer } from "../../src/net/protocol.ts";
import { until } from "./fixtures/until.ts";

const hosts: Host[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function host(listen: string[] = []): Promise<Host> {
  const h = await createHost({ key: SigningKey.generate(), listen, dht: false });
  hosts.push(h);
  return h;
}

test("TCP: stalled handshakes past the per-IP cap are refused at once; closing one frees its slot for an honest peer", async () => {
  const victim = await host(["/ip4/127.0.0.1/tcp/0"]);
  await new SyncServer(victim, new MemoryStore(), openPolicy).start();
  const addr = victim.getMultiaddrs()[0]!;
  const port = Number(addr.getComponents().find((c) => c.name === "tcp")!.value);

  // Sockets that connect and never say a byte of the handshake.
  const STALLED = MAX_PENDING_HANDSHAKES_PER_IP + 12;
  let closed = 0;
  for (let i = 0; i < STALLED; i++) {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("close", () => closed++);
    socket.on("error", () => undefined);
    sockets.push(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
  }
  // The ones past the cap are closed by the victim right away, well before the 5 s upgrade
  // timeout that would close them all together; the first MAX_PENDING_HANDSHAKES_PER_IP wait.
  await until(() => closed >= STALLED - MAX_PENDING_HANDSHAKES_PER_IP, 4000);
  expect(sockets.slice(0, MAX_PENDING_HANDSHAKES_PER_IP).every((s) => !s.destroyed && s.readyState === "open")).toBe(true);

  // While all of the cap is held, this address gets no further handshake (the honest peer shares
  // 127.0.0.1 with the attacker here); once the attacker lets go, it connects and authenticates.
  for (const s of sockets.splice(0)) s.destroy();
  const member = await SyncClient.connect(await host(), addr, { capHandle: new Uint8Array(32), chain: [] });
  expect(await member.heads()).toEqual([]);
  await member.close();
}, 30_000);
