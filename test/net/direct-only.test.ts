/**
 * `--direct-only`: a relayed address (/p2p-circuit) given to a sync is refused with one line before
 * anything starts, and the node's connection gater refuses relayed dials the node would make.
 */
import { afterEach, expect, test } from "bun:test";
import { multiaddr } from "@multiformats/multiaddr";
import { SigningKey } from "../../src/core/ed25519.ts";
import { createHost, type Host } from "../../src/net/host.ts";
import { attempt, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
const hosts: Host[] = [];
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

const RELAY = "12D3KooWRkgwB9DdDRYppGqeUZaF1mN6G78aa6t45CvndhJEWb6h";

test("sync --direct-only refuses a relayed --peers address with one line", async () => {
  team = await makeTeam(["a", "b"]);
  const circuit = `/ip4/127.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${team.members.b!.peerId}`;
  const member = ["--key", "a.key", "--team-root", team.root, "--cap", team.members.a!.cap!, "--listen", "/ip4/127.0.0.1/tcp/0"];
  const refused = await attempt(team.dir, "pile", "net", "sync", "a.pile", ...member, "--direct-only", "--peers", circuit);
  expect(refused.code).toBe(1);
  expect(refused.err.trim()).toBe(`error: --peers: ${circuit} is a relayed address (/p2p-circuit), and direct-only refuses relayed connections`);
}, 30_000);

test("the gater of a direct-only host refuses relayed addresses and lets direct ones through", async () => {
  const host = await createHost({ key: SigningKey.generate(), listen: ["/ip4/127.0.0.1/tcp/0"], dht: false, directOnly: true });
  hosts.push(host);
  const gater = (host as unknown as { components: { connectionGater: { denyDialMultiaddr?: (a: unknown) => boolean | Promise<boolean> } } }).components.connectionGater;
  expect(await gater.denyDialMultiaddr?.(multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit`))).toBe(true);
  expect(await gater.denyDialMultiaddr?.(multiaddr("/ip4/127.0.0.1/tcp/4001"))).toBe(false);
});
