/**
 * Peers behind NAT routers reach each other through a team relay (`tribles relay`), in network
 * namespaces this file creates (test/net/netns/nat-lab.ts): a public namespace with the relay, and
 * three homes, each behind its own masquerading router (two keep ports, "cone"; the third maps
 * each destination to a random port, "symmetric"). Real `tribles` processes throughout.
 *
 * What it shows: commits cross two NATs both ways through the relay; the nodes say the path is
 * relayed and through which relay; between the two cone homes hole punching (DCUtR, over TCP)
 * then makes the connection direct and `pile net status` says so; behind the symmetric NAT hole
 * punching is tried, fails, and the peers stay relayed and say so; a key without a team capability
 * gets no reservation.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { followJsonLines, type SyncEvent, type SyncProcess } from "../../src/cli/sync-process.ts";
import { attempt, CLI, makeTeam, type Team } from "./e2e-helpers.ts";
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
    await a?.stop();
    relay?.proc.kill("SIGTERM");
    await relay?.proc.exited;
    await team?.cleanup();
  } finally {
    lab?.destroy();
  }
}, 30_000);

/** Syncs a test started besides A's (shared by the tests), stopped after it even when it fails. */
const spawned: SyncProcess[] = [];
afterEach(async () => {
  await Promise.all(spawned.splice(0).map((p) => p.stop()));
}, 30_000);

/** A member's sync in home `home`, holding a reservation on the relay. */
function homeSync(member: string, home: number, extra: string[] = []): SyncProcess {
  const p = team!.sync(member, [...listenAll, "--relay", relayAddr, ...extra], lab!.exec(lab!.homes[home]!.ns));
  if (member !== "a") spawned.push(p);
  return p;
}

const viaRelay = (member: string) => `${relayAddr}/p2p-circuit/p2p/${team!.members[member]!.peerId}`;
const reserved = (p: SyncProcess) => p.waitFor((e) => e.event === "reservation" && e.ok === true, 40_000);
const received = (p: SyncProcess, head: string) => p.waitFor((e) => e.event === "received" && e.head === head, 30_000);
const pathTo = (p: SyncProcess, member: string) => p.waitFor((e) => e.event === "path" && e.peer === team!.members[member]!.peerId, 20_000);

const peerIdOf = (member: string) => team!.members[member]!.peerId;

/** `pile net status --json` of a member's running sync: its entry for `peer`. */
async function statusOf(member: string, peer: string): Promise<{ peer: string; path: string; relay: string | null; transport: string } | undefined> {
  const { code, out, err } = await attempt(team!.dir, "pile", "net", "status", team!.members[member]!.pile, "--json");
  if (code !== 0) throw new Error(`status exited ${code}: ${err}`);
  return (JSON.parse(out).peers as { peer: string; path: string; relay: string | null; transport: string }[]).find((p) => p.peer === peerIdOf(peer));
}

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
  "behind two port-keeping NATs hole punching makes the connection direct, and status says direct",
  async () => {
    a ??= homeSync("a", 0);
    await reserved(a);
    const b = homeSync("b", 1, ["--peers", viaRelay("a")]);
    // B reaches A through the relay first; A, the side it came in to, punches (TCP simultaneous open).
    expect((await pathTo(b, "a")).path).toBe("relayed");
    const direct = await b.waitFor((e) => e.event === "path" && e.peer === peerIdOf("a") && e.path === "direct", 60_000);
    expect(direct.transport).toBe("tcp");
    expect(direct.addr as string).toStartWith(`/ip4/${lab!.homes[0]!.wan}/tcp/`);
    const punched = await a.waitFor((e) => e.event === "hole-punch" && e.peer === peerIdOf("b") && e.direct === true, 30_000);
    expect(punched.addr as string).toStartWith(`/ip4/${lab!.homes[1]!.wan}/tcp/`);
    const seen = await statusOf("b", "a");
    expect(seen?.path).toBe("direct");
    expect(seen?.transport).toBe("tcp");
    expect((await statusOf("a", "b"))?.path).toBe("direct");
    // And commits travel on it.
    const head = await team!.commit("a", "after the punch", { "p.txt": "direct" });
    await received(b, head);
    await b.stop();
  },
  120_000,
);

test.skipIf(!!missing)(
  "behind a symmetric NAT hole punching fails: the peers still sync, relayed, and say so",
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
    // Both sides offered their mapping and A dialled: C's router gave that dial another port.
    const punch = await a.waitFor((e) => e.event === "hole-punch" && e.peer === peerIdOf("c"), 90_000);
    expect(punch.direct).toBe(false);
    const seen = await statusOf("c", "a");
    expect(seen?.path).toBe("relayed");
    expect(seen?.relay).toBe(peerIdOf("relay"));
    expect((await statusOf("a", "c"))?.path).toBe("relayed");
    await c.stop();
  },
  150_000,
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
