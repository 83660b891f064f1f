/**
 * A relay reservation lives on the one connection it was made on. Two connections to the relay
 * can be open at once (a relayed dial and the reservation's own dial racing, or the TCP
 * connection opened to learn our NAT mapping); when the reservation's closes and another stays,
 * the reservation is gone all the same, and the node must reserve again. Seen in the NAT lab:
 * the node kept no relayed address and nobody could reach it. Real libp2p hosts on 127.0.0.1.
 */
import { afterEach, expect, test } from "bun:test";
import { multiaddr } from "@multiformats/multiaddr";
import { SigningKey } from "../../src/core/ed25519.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { Reach, type ReachEvent } from "../../src/net/relay.ts";
import { until } from "./fixtures/until.ts";

const hosts: Host[] = [];
const reaches: Reach[] = [];
afterEach(async () => {
  for (const r of reaches.splice(0)) r.stop();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

test("a reservation whose connection closes while another to the relay stays open is made again", async () => {
  const relay = await createHost({
    key: SigningKey.generate(),
    listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"],
    dht: false,
    reach: { relayServer: { admit: async () => true } },
  });
  hosts.push(relay);
  const relayAddrs = relay.getMultiaddrs().map(String);
  const relayTcp = relayAddrs.find((a) => a.includes("/tcp/"))!;
  const relayQuic = relayAddrs.find((a) => a.includes("/quic-v1"));
  const reserveOn = relayQuic ?? relayTcp;

  const node = await createHost({ key: SigningKey.generate(), listen: ["/ip4/127.0.0.1/tcp/0"], dht: false, reach: { relays: [reserveOn] } });
  hosts.push(node);
  const events: ReachEvent[] = [];
  reaches.push(Reach.start(node, { relays: [reserveOn] }, (e) => events.push(e)));
  const reservations = () => events.filter((e) => e.type === "reservation");
  await until(() => reservations().some((e) => e.ok), 20_000);
  const relayId = relay.peerId.toString();
  const circuitAddrs = () => node.getMultiaddrs().filter((a) => a.toString().includes(`/p2p/${relayId}/p2p-circuit`));
  expect(circuitAddrs().length).toBeGreaterThan(0);

  // A second connection to the relay (over TCP when the reservation went over QUIC), then the
  // first one closes: the relay still has a connection from us, but no reservation.
  const [first] = node.getConnections(relay.peerId);
  const firstIsQuic = first!.remoteAddr.toString().includes("/quic-v1");
  const other = relayAddrs.find((a) => a.includes("/quic-v1") !== firstIsQuic) ?? relayTcp;
  const second = await node.dial(multiaddr(other), { force: true });
  expect(second.id).not.toBe(first!.id);
  await first!.close();
  expect(node.getConnections(relay.peerId).length).toBeGreaterThan(0);

  await until(() => reservations().some((e) => !e.ok), 20_000);
  const lost = reservations().find((e) => !e.ok)!;
  expect(lost.error).toBe("the relay connection holding the reservation closed");
  // Reserved again: a second success, and relayed addresses back.
  await until(() => reservations().filter((e) => e.ok).length >= 2 && circuitAddrs().length > 0, 20_000);
}, 60_000);

test("Reach.stop removes every listener it added to the host, a held reservation's watchers included", async () => {
  const relay = await createHost({ key: SigningKey.generate(), listen: ["/ip4/127.0.0.1/tcp/0"], dht: false, reach: { relayServer: { admit: async () => true } } });
  hosts.push(relay);
  const reserveOn = relay.getMultiaddrs().map(String)[0]!;
  const node = await createHost({ key: SigningKey.generate(), listen: ["/ip4/127.0.0.1/tcp/0"], dht: false, reach: { relays: [reserveOn] } });
  hosts.push(node);
  const types = ["connection:open", "connection:close", "transport:listening", "self:peer:update", "peer:identify"];
  const counts = () => types.map((t) => node.listenerCount(t));
  const before = counts();
  const events: ReachEvent[] = [];
  const reach = Reach.start(node, { relays: [reserveOn] }, (e) => events.push(e));
  await until(() => events.some((e) => e.type === "reservation" && e.ok), 20_000);
  expect(counts()).not.toEqual(before);
  reach.stop();
  expect(counts()).toEqual(before);
}, 60_000);
