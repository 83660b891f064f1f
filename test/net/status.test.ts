/**
 * `pile net status` of two real sync processes on 127.0.0.1: each sees the other as a direct peer
 * with its transport, a ping RTT, bytes both ways and the head exchanged; the control socket is
 * 0600; with no sync running the command says so.
 */
import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { attempt, firstAddr, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
}, 30_000); // stopping three syncs can outlast the default 5 s hook limit on a loaded machine

interface StatusJson {
  peerId: string;
  peers: { peer: string; path: string; relay: string | null; transport: string; rttMs: number | null; bytesIn: number; bytesOut: number; member: boolean; lastHeadReceived: { head: string } | null; lastHeadSent: { head: string } | null }[];
}

async function status(t: Team, pile: string): Promise<StatusJson> {
  const { code, out, err } = await attempt(t.dir, "pile", "net", "status", pile, "--json");
  if (code !== 0) throw new Error(`status exited ${code}: ${err}`);
  return JSON.parse(out);
}

test("status shows each connected peer: direct, transport, RTT, bytes both ways, heads exchanged", async () => {
  team = await makeTeam(["a", "b"]);
  const a = team.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  const b = team.sync("b", [...listenFor("quic"), "--peers", aAddr]);
  await a.waitFor((e) => e.event === "auth" && e.accepted === true);
  await b.waitFor((e) => e.event === "auth" && e.accepted === true);
  const commit = await team.commit("a", "for status", { "s.txt": "status" });
  await b.waitFor((e) => e.event === "received" && e.head === commit);
  // The newest head b fetched from a (a's pile may have published others before this commit).
  const fetched = b.events.filter((e) => e.event === "fetched").at(-1)!;

  const { a: ma, b: mb } = team.members as Record<"a" | "b", { peerId: string }>;
  const fromB = await status(team, "b.pile");
  expect(fromB.peerId).toBe(mb.peerId);
  const aSeen = fromB.peers.find((p) => p.peer === ma.peerId)!;
  expect(aSeen).toBeDefined();
  expect(aSeen.path).toBe("direct");
  expect(aSeen.relay).toBeNull();
  expect(aSeen.transport).toBe("tcp"); // b dialled a's TCP address
  expect(typeof aSeen.rttMs).toBe("number");
  expect(aSeen.member).toBe(true);
  expect(aSeen.bytesIn).toBeGreaterThan(0);
  expect(aSeen.bytesOut).toBeGreaterThan(0);
  expect(aSeen.lastHeadReceived?.head).toBe(fetched.head as string);

  const fromA = await status(team, "a.pile");
  const bSeen = fromA.peers.find((p) => p.peer === mb.peerId)!;
  expect(bSeen.path).toBe("direct");
  // What b received, a sent: the fetch of the closure is bytes out of a.
  expect(bSeen.bytesOut).toBeGreaterThan(0);
  expect(bSeen.lastHeadSent?.head).toBe(fetched.head as string);

  // Only the owner may ask.
  expect(statSync(join(team.dir, "a.pile.sock")).mode & 0o777).toBe(0o600);
  const text = await attempt(team.dir, "pile", "net", "status", "a.pile");
  expect(text.code).toBe(0);
  expect(text.out).toContain(mb.peerId);
  expect(text.out).toContain("direct, tcp inbound");

  await a.stop();
  const none = await attempt(team.dir, "pile", "net", "status", "a.pile");
  expect(none.code).toBe(1);
  expect(none.err.trim()).toBe("error: no sync is running for a.pile; start one with `tribles pile net sync a.pile`");
}, 60_000);
