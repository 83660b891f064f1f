/**
 * `--peers` given a teammate's public key (or bare PeerId) only: the node finds the teammate's
 * addresses through peer routing, here the DHT of a third node both know, and dials it directly.
 */
import { afterEach, expect, test } from "bun:test";
import { attempt, firstAddr, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
}, 30_000); // stopping three syncs can outlast the default 5 s hook limit on a loaded machine

test("a peer given by public key alone is found through a third node's DHT and connected directly", async () => {
  team = await makeTeam(["hub", "a", "b"]);
  const hub = team.sync("hub", listenFor("tcp"));
  const hubAddr = firstAddr(await hub.waitFor((e) => e.event === "listening"));
  const a = team.sync("a", [...listenFor("tcp"), "--peers", hubAddr]);
  await a.waitFor((e) => e.event === "connected");
  const { a: ma } = team.members as Record<string, { peerId: string; publicKey: string }>;
  // b knows the hub's address and a's key, nothing else.
  const b = team.sync("b", [...listenFor("tcp"), "--peers", hubAddr, "--peers", ma!.publicKey]);
  const found = await b.waitFor((e) => e.event === "connected" && e.addr === ma!.publicKey, 20_000);
  expect(found.peer).toBe(ma!.peerId);
  // The connection is a's own, not through the hub: status says direct. (Asked until a is listed:
  // on a loaded machine a simultaneous dial from a may replace the first connection meanwhile.)
  let aSeen: { path: string } | undefined;
  for (let tries = 0; !aSeen && tries < 50; tries++) {
    const { out } = await attempt(team.dir, "pile", "net", "status", "b.pile", "--json");
    aSeen = JSON.parse(out).peers.find((p: { peer: string }) => p.peer === ma!.peerId);
    if (!aSeen) await Bun.sleep(100);
  }
  expect(aSeen?.path).toBe("direct");
  const commit = await team.commit("a", "found by key", { "k.txt": "key" });
  await b.waitFor((e) => e.event === "received" && e.head === commit, 15_000);
}, 60_000);

test("a bare PeerId nobody can locate is reported as not found by peer routing", async () => {
  team = await makeTeam(["a", "b"]);
  const b = team.sync("b", [...listenFor("tcp"), "--peers", team.members.a!.peerId]);
  const failed = await b.waitFor((e) => e.event === "dial-failed", 20_000);
  expect(failed.error).toContain(`peer routing found no addresses for ${team.members.a!.peerId}`);
}, 30_000);
