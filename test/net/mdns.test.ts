/**
 * mDNS discovery between two sync processes that are given no peers. mDNS multicasts, so it runs
 * only inside two network namespaces this test creates, joined by a veth pair: nothing reaches the
 * host's interfaces. Creating namespaces needs root and `ip` (iproute2); CI runs as root.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeTeam, type Team } from "./e2e-helpers.ts";

const tag = `${process.pid % 100000}`;
const ns = { a: `tribles-mdns-${tag}-a`, b: `tribles-mdns-${tag}-b` };
const veth = { a: `trm${tag}a`, b: `trm${tag}b` };
const addr = { a: "10.213.77.1", b: "10.213.77.2" };

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

function removeNamespaces(): void {
  for (const name of Object.values(ns)) Bun.spawnSync(["ip", "netns", "del", name], { stderr: "ignore" });
}

/** Whether this machine lets us make namespaces (root with iproute2). */
const canIsolate = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("ip") !== null;
if (!canIsolate) console.warn("mdns test needs root and iproute2 to create network namespaces; it cannot run here");

beforeAll(() => {
  if (!canIsolate) return;
  removeNamespaces();
  ip("netns", "add", ns.a);
  ip("netns", "add", ns.b);
  ip("link", "add", veth.a, "type", "veth", "peer", "name", veth.b);
  for (const side of ["a", "b"] as const) {
    ip("link", "set", veth[side], "netns", ns[side]);
    ip("-n", ns[side], "addr", "add", `${addr[side]}/24`, "dev", veth[side]);
    ip("-n", ns[side], "link", "set", veth[side], "up");
    ip("-n", ns[side], "link", "set", "lo", "up");
    ip("-n", ns[side], "route", "add", "224.0.0.0/4", "dev", veth[side]);
  }
}, 30_000);

let team: Team | undefined;
afterAll(async () => {
  await team?.cleanup();
  if (canIsolate) removeNamespaces();
}, 30_000);

test.skipIf(!canIsolate)("two peers on one LAN find each other with --mdns and sync", async () => {
  team = await makeTeam(["a", "b"]);
  const inNs = (side: "a" | "b") => ["ip", "netns", "exec", ns[side]];
  const listen = (side: "a" | "b") => ["--listen", `/ip4/${addr[side]}/tcp/0`, "--mdns"];
  const a = team.sync("a", listen("a"), inNs("a"));
  const b = team.sync("b", listen("b"), inNs("b"));
  await a.waitFor((e) => e.event === "listening");
  await b.waitFor((e) => e.event === "listening");
  // No --peers anywhere: the only way B learns of A is an mDNS answer on the veth link.
  await b.waitFor((e) => e.event === "auth" && e.accepted === true, 20_000);
  const head = await team.commit("a", "found by mdns", { "m.txt": "multicast" });
  const got = await b.waitFor((e) => e.event === "received" && e.head === head, 20_000);
  expect(got.branch).toBe("main");
}, 60_000);
