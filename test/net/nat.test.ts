/**
 * Peers behind NAT routers reach each other through a team relay (`tribles relay`), in network
 * namespaces this file creates (test/net/netns/nat-lab.ts): a public namespace with the relay, and
 * three homes, each behind its own masquerading router (two keep ports, "cone"; the third maps
 * each destination to a random port, "symmetric"). Real `tribles` processes throughout.
 *
 * What it shows: commits cross two NATs both ways through the relay; the nodes say the path is
 * relayed and through which relay; a symmetric NAT still syncs, relayed; a key without a team
 * capability gets no reservation. Hole punching (DCUtR) is attempted by the nodes but does not
 * succeed between two NATs with libp2p's QUIC and TCP transports here (see README, Limits), so the
 * cone test asserts the path the nodes report, which today is relayed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { followJsonLines, type SyncEvent, type SyncProcess } from "../../src/cli/sync-process.ts";
import { CLI, makeTeam, type Team } from "./e2e-helpers.ts";
import { makeNatLab, type NatLab, natLabMissing } from "./netns/nat-lab.ts";

const missing = natLabMissing();
if (missing) console.warn(`nat test cannot run here: ${missing}`);

let lab: NatLab | undefined;
let team: Team | undefined;
let relay: { proc: Subprocess; waitFor: (m: (e: SyncEvent) => boolean, ms?: number) => Promise<SyncEvent>; items: SyncEvent[] } | undefined;
let relayAddr = "";

const listenAll = ["--listen", "/ip4/0.0.0.0/udp/0/quic-v1", "--listen", "/ip4/0.0.0.0/tcp/0"];

beforeAll(async () => {
  if (missing) return;
  lab = makeNatLab(`${process.pid % 10000}`, ["cone", "cone", "symmetric"]);
  team = await makeTeam(["relay", "a", "b", "c", "stranger"], { outsiders: ["stranger"] });
  const r = team.members.relay!;
  const proc = Bun.spawn(
    [...lab.exec(lab.pub), ...CLI, "relay", "--pile", r.pile, "--key", r.key, "--team-root", team.root, "--cap", r.cap!, "--listen", `/ip4/${lab.relayAddr}/udp/4001/quic-v1`, "--listen", `/ip4/${lab.relayAddr}/tcp/4001`, "--json"],
    { cwd: team.dir, stdout: "pipe", stderr: "pipe" },
  );
  const followed = followJsonLines<SyncEvent>(proc, "relay");
  relay = { proc, ...followed };
  const listening = await relay.waitFor((e) => e.event === "listening");
  relayAddr = (listening.addrs as string[]).find((a) => a.includes("/quic-v1/"))!;
  expect(relayAddr).toContain(`/p2p/${r.peerId}`);
}, 60_000);

afterAll(async () => {
  try {
    relay?.proc.kill("SIGTERM");
    await relay?.proc.exited;
    await team?.cleanup();
  } finally {
    lab?.destroy();
  }
}, 30_000);

/** A member's sync in home `home`, holding a reservation on the relay. */
function homeSync(member: string, home: number, extra: string[] = []): SyncProcess {
  return team!.sync(member, [...listenAll, "--relay", relayAddr, ...extra], lab!.exec(lab!.homes[home]!.ns));
}

const viaRelay = (member: string) => `${relayAddr}/p2p-circuit/p2p/${team!.members[member]!.peerId}`;
const reserved = (p: SyncProcess) => p.waitFor((e) => e.event === "reservation" && e.ok === true, 40_000);
const received = (p: SyncProcess, head: string) => p.waitFor((e) => e.event === "received" && e.head === head, 30_000);
const pathTo = (p: SyncProcess, member: string) => p.waitFor((e) => e.event === "path" && e.peer === team!.members[member]!.peerId, 20_000);

let a: SyncProcess | undefined;

test.skipIf(!!missing)(
  "two peers behind two NATs sync both ways through the team relay, and say the path is relayed",
  async () => {
    a = homeSync("a", 0);
    const reservation = await reserved(a);
    expect((reservation.addrs as string[])[0]).toBe(viaRelay("a"));
    // B knows only A's relayed address: behind two NATs, that is the one way in.
    const b = homeSync("b", 1, ["--peers", viaRelay("a")]);
    await reserved(b);
    const fromA = await team!.commit("a", "from a", { "a.txt": "behind nat one" });
    const fromB = await team!.commit("b", "from b", { "b.txt": "behind nat two" });
    expect((await received(b, fromA)).publisher).toBe(team!.members.a!.peerId);
    expect((await received(a, fromB)).publisher).toBe(team!.members.b!.peerId);
    const path = await pathTo(b, "a");
    expect(path.path).toBe("relayed");
    expect(path.via).toBe(team!.members.relay!.peerId);
    // Neither home is reachable directly; both are through the relay.
    const reach = await b.waitFor((e) => e.event === "reachability" && (e.relayed as string[]).length > 0);
    expect(reach.reachable).toBe(false);
    await b.stop();
  },
  90_000,
);

test.skipIf(!!missing)(
  "behind a symmetric NAT a peer still syncs, relayed, and says so",
  async () => {
    a ??= homeSync("a", 0);
    await reserved(a);
    const c = homeSync("c", 2, ["--peers", viaRelay("a")]);
    await reserved(c);
    const head = await team!.commit("a", "to the symmetric home", { "s.txt": "random ports" });
    await received(c, head);
    const path = await pathTo(c, "a");
    expect(path.path).toBe("relayed");
    expect(path.via).toBe(team!.members.relay!.peerId);
    await c.stop();
  },
  90_000,
);

test.skipIf(!!missing)(
  "a key without a team capability gets no reservation on the relay",
  async () => {
    const s = homeSync("stranger", 1);
    const stranger = team!.members.stranger!.peerId;
    const refused = await relay!.waitFor((e) => e.event === "reservation-refused" && e.peer === stranger, 30_000);
    expect(refused.peer).toBe(stranger);
    const failed = await s.waitFor((e) => e.event === "reservation", 30_000);
    expect(failed.ok).toBe(false);
    await s.stop();
  },
  90_000,
);
