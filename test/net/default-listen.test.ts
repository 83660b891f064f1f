/**
 * Sync with no --listen listens on every interface at the default port pair (QUIC and TCP on
 * SYNC_PORT) and prints the addresses a teammate can dial; a second sync on the same machine finds
 * the port taken and listens on a random one; with --mdns a sync on another machine finds it at
 * its LAN address. Listening on every interface would bind the host's real interfaces, so this
 * runs only inside two network namespaces this test creates, joined by a veth pair (10.213.79.1
 * and .2): needs root and iproute2, as CI has.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SYNC_PORT } from "../../src/net/host.ts";
import { makeTeam, type Team } from "./e2e-helpers.ts";

const tag = `${process.pid % 100000}`;
const ns = `tribles-listen-${tag}`;
const ns2 = `tribles-listen-${tag}-2`;
const ADDR = "10.213.79.1";
const ADDR2 = "10.213.79.2";

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

function removeNamespaces(): void {
  for (const name of [ns, ns2]) Bun.spawnSync(["ip", "netns", "del", name], { stderr: "ignore" });
}

const canIsolate = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("ip") !== null;
if (!canIsolate) console.warn("default-listen test needs root and iproute2 to create a network namespace; it cannot run here");

beforeAll(() => {
  if (!canIsolate) return;
  removeNamespaces();
  ip("netns", "add", ns);
  ip("netns", "add", ns2);
  // A veth pair between the two: a LAN the host never sees.
  ip("-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1", "netns", ns2);
  for (const [name, dev, addr] of [[ns, "lan0", ADDR], [ns2, "lan1", ADDR2]] as const) {
    ip("-n", name, "link", "set", "lo", "up");
    ip("-n", name, "addr", "add", `${addr}/24`, "dev", dev);
    ip("-n", name, "link", "set", dev, "up");
    ip("-n", name, "route", "add", "224.0.0.0/4", "dev", dev);
  }
}, 30_000);

let team: Team | undefined;
afterAll(async () => {
  await team?.cleanup();
  if (canIsolate) removeNamespaces();
}, 30_000);

test.skipIf(!canIsolate)("no --listen: every interface on the default ports, a random port when taken, shareable addresses printed", async () => {
  team = await makeTeam(["a", "b", "c"]);
  const inNs = ["ip", "netns", "exec", ns];
  const a = team.sync("a", ["--mdns"], inNs);
  const listening = await a.waitFor((e) => e.event === "listening");
  const aId = team.members.a!.peerId;
  const addrs = listening.addrs as string[];
  expect(addrs).toContain(`/ip4/${ADDR}/tcp/${SYNC_PORT}/p2p/${aId}`);
  expect(addrs).toContain(`/ip4/${ADDR}/udp/${SYNC_PORT}/quic-v1/p2p/${aId}`);
  // What a teammate can use: the LAN addresses, not loopback.
  const share = listening.share as string[];
  expect(share.length).toBeGreaterThan(0);
  expect(share.every((s) => s.includes(ADDR))).toBe(true);

  // The same machine, a second pile: the default port is taken, so a random one.
  const b = team.sync("b", ["--peers", `/ip4/${ADDR}/tcp/${SYNC_PORT}/p2p/${aId}`], inNs);
  const bListening = await b.waitFor((e) => e.event === "listening");
  const bTcp = (bListening.addrs as string[]).find((s) => s.startsWith(`/ip4/${ADDR}/tcp/`))!;
  expect(bTcp).toBeDefined();
  expect(bTcp).not.toContain(`/tcp/${SYNC_PORT}/`);
  const warning = await b.waitFor((e) => e.event === "warning");
  expect(warning.message).toContain("address already in use; listening on a random port there instead");
  // And it works: b reached a at the default port.
  await b.waitFor((e) => e.event === "auth" && e.accepted === true);

  // Another machine on the LAN, no --peers: mDNS announces a's LAN addresses (not loopback,
  // which would lead c to itself), so c reaches a.
  const c = team.sync("c", ["--mdns"], ["ip", "netns", "exec", ns2]);
  const cListening = await c.waitFor((e) => e.event === "listening");
  expect(cListening.addrs as string[]).toContain(`/ip4/${ADDR2}/tcp/${SYNC_PORT}/p2p/${team.members.c!.peerId}`);
  await c.waitFor((e) => e.event === "auth" && e.accepted === true && e.peer === aId, 20_000);
  const commit = await team.commit("a", "over the LAN", { "l.txt": "lan" });
  await c.waitFor((e) => e.event === "received" && e.head === commit, 20_000);
}, 90_000);
