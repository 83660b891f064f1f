/**
 * Sync with no --listen listens on every interface at the default port pair (QUIC and TCP on
 * SYNC_PORT) and prints the addresses a teammate can dial; a second sync on the same machine finds
 * the port taken and listens on a random one. Listening on every interface would bind the host's
 * real interfaces, so this runs only inside a network namespace this test creates (with a veth
 * interface at 10.213.79.1): needs root and iproute2, as CI has.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SYNC_PORT } from "../../src/net/host.ts";
import { makeTeam, type Team } from "./e2e-helpers.ts";

const tag = `${process.pid % 100000}`;
const ns = `tribles-listen-${tag}`;
const ADDR = "10.213.79.1";

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

const canIsolate = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("ip") !== null;
if (!canIsolate) console.warn("default-listen test needs root and iproute2 to create a network namespace; it cannot run here");

beforeAll(() => {
  if (!canIsolate) return;
  Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
  ip("netns", "add", ns);
  ip("-n", ns, "link", "set", "lo", "up");
  // A veth pair with both ends inside: a LAN interface the host never sees.
  ip("-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1");
  ip("-n", ns, "addr", "add", `${ADDR}/24`, "dev", "lan0");
  ip("-n", ns, "link", "set", "lan0", "up");
  ip("-n", ns, "link", "set", "lan1", "up");
});

let team: Team | undefined;
afterAll(async () => {
  await team?.cleanup();
  if (canIsolate) Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
});

test.skipIf(!canIsolate)("no --listen: every interface on the default ports, a random port when taken, shareable addresses printed", async () => {
  team = await makeTeam(["a", "b"]);
  const inNs = ["ip", "netns", "exec", ns];
  const a = team.sync("a", [], inNs);
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
}, 60_000);
