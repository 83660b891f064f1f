/**
 * Every IPv4 dial of `tcpFromOnePort` leaves from one local port (what hole punching needs, see
 * src/net/tcp-dial-port.ts), and a dial that cannot use it falls back to an ephemeral port. Real
 * sockets on 127.0.0.1; the upgrade step hands back the raw connection (no handshake is under test).
 */
import { afterEach, expect, test } from "bun:test";
import net from "node:net";
import { defaultLogger } from "@libp2p/logger";
import { multiaddr } from "@multiformats/multiaddr";
import { tcpFromOnePort } from "../../src/net/tcp-dial-port.ts";

/** A listener on 127.0.0.1 that records the remote port of each connection it accepts. */
interface Listener {
  port: number;
  /** Resolves with the remote port of the `n`-th connection (from 0) once it arrives. */
  peerPort(n: number): Promise<number>;
  close(): void;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function listener(): Promise<Listener> {
  const ports: number[] = [];
  const waiting = new Map<number, (port: number) => void>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    const n = ports.push(socket.remotePort!) - 1;
    waiting.get(n)?.(socket.remotePort!);
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const l: Listener = {
    port: (server.address() as net.AddressInfo).port,
    peerPort: (n) => (n < ports.length ? Promise.resolve(ports[n]!) : new Promise((resolve) => waiting.set(n, resolve))),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  cleanups.push(l.close);
  return l;
}

type RawConn = { close(): Promise<void>; abort(err: Error): void };

function transport() {
  const t = tcpFromOnePort()({ logger: defaultLogger() } as never);
  const upgrader = { upgradeOutbound: async (maConn: RawConn) => maConn };
  return async (port: number) => {
    const conn = (await t.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`), { signal: AbortSignal.timeout(5000), upgrader } as never)) as unknown as RawConn;
    cleanups.push(() => conn.abort(new Error("test over")));
    return conn;
  };
}

test("dials to different peers all leave from one local port", async () => {
  const dial = transport();
  const servers = [await listener(), await listener(), await listener()];
  for (const s of servers) await dial(s.port);
  const ports = await Promise.all(servers.map((s) => s.peerPort(0)));
  expect(new Set(ports).size).toBe(1);
  expect(servers.map((s) => s.port)).not.toContain(ports[0]!);
}, 15_000);

test("a second dial to the same address while the first is open leaves from an ephemeral port", async () => {
  const dial = transport();
  const [s, other] = [await listener(), await listener()];
  await dial(s.port);
  await dial(s.port); // same four-tuple as the first: the dial port cannot be used
  const [first, second] = [await s.peerPort(0), await s.peerPort(1)];
  expect(second).not.toBe(first);
  // The dial port itself is still the one used for other peers.
  await dial(other.port);
  expect(await other.peerPort(0)).toBe(first);
}, 15_000);

test("a dial port another program took: that dial falls back, and later dials share a new port", async () => {
  const dial = transport();
  const [s1, s2, s3, s4] = [await listener(), await listener(), await listener(), await listener()];
  await dial(s1.port);
  const taken = await s1.peerPort(0);
  // Another program listens on our dial port (on every interface).
  const squatter = net.createServer();
  await new Promise<void>((resolve, reject) => {
    squatter.once("error", reject);
    squatter.listen({ host: "0.0.0.0", port: taken }, resolve);
  });
  cleanups.push(() => squatter.close());
  await dial(s2.port);
  const fallback = await s2.peerPort(0);
  expect(fallback).not.toBe(taken);
  await dial(s3.port);
  await dial(s4.port);
  const [p3, p4] = [await s3.peerPort(0), await s4.peerPort(0)];
  expect(p3).toBe(p4);
  expect(p3).not.toBe(taken);
}, 15_000);
