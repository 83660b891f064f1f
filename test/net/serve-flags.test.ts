/**
 * `pile net sync`'s serving-limit flags (cli/serve-flags.ts) through the real CLI: a bad value is
 * refused with one line naming the flag; good ones reach the node, and what the node holds against
 * a peer is logged as one "peer-error" line naming it.
 */
import { afterEach, expect, test } from "bun:test";
import { multiaddr } from "@multiformats/multiaddr";
import { SigningKey } from "../../src/core/ed25519.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { attempt, firstAddr, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  await team?.cleanup();
  team = undefined;
});

test("a bad serving limit is refused with one line naming the flag", async () => {
  team = await makeTeam(["a"]);
  for (const [flag, value, says] of [
    ["--serve-streams", "0", "--serve-streams must be a whole number from 1 to 1024, got 0"],
    ["--auth-timeout", "soon", "--auth-timeout must be a number of seconds above 0 and at most 86400, got soon"],
    ["--max-strangers-per-ip", "1.5", "--max-strangers-per-ip must be a whole number"],
  ] as const) {
    const { code, err } = await attempt(team.dir, "pile", "net", "sync", team.members.a!.pile, flag, value);
    expect(code).not.toBe(0);
    expect(err).toContain(says);
    expect(err.trim().split("\n")).toHaveLength(1);
  }
}, 60_000);

test("--auth-timeout closes a stranger that never authenticates, logged as one peer-error line naming it", async () => {
  team = await makeTeam(["a"]);
  const a = team.sync("a", [...listenFor("tcp"), "--auth-timeout", "0.3"]);
  const addr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  const stranger = await createHost({ key: SigningKey.generate(), listen: [], dht: false });
  hosts.push(stranger);
  await stranger.dial(multiaddr(addr));
  const line = await a.waitFor((e) => e.event === "peer-error", 10_000);
  expect(line.peer).toBe(stranger.peerId.toString());
  expect(line.error).toBe("closed: no pile-sync AUTH within 0.3 s");
}, 60_000);
