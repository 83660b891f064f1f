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
 * gets no reservation; a teammate given by PeerId alone is found through the relay; and a bulk
 * fetch begun over a relay that allows 1 MiB per relayed connection completes (24 MiB) once hole
 * punching made the connection direct: it left the relay. A peer restarted with no flags reserves
 * on the relay it remembered and syncs again; and `pile net doctor` names the relay step when the
 * relay a peer reserved on is down.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { followJsonLines, type SyncEvent, type SyncProcess } from "../../src/cli/sync-process.ts";
import { attempt, CLI, makeTeam, type Team } from "./e2e-helpers.ts";
import { makeNatLab, type NatLab, natLabMissing } from "./netns/nat-lab.ts";

const missing = natLabMissing();
if (missing) console.warn(`nat test cannot run here: ${missing}`);

let lab: NatLab | undefined;
let team: Team | undefined;
let relay: Relay | undefined;
let relayAddr = "";

const listenAll = ["--listen", "/ip4/0.0.0.0/udp/0/quic-v1", "--listen", "/ip4/0.0.0.0/tcp/0"];

type Relay = { proc: Subprocess; waitFor: (m: (e: SyncEvent) => boolean, ms?: number) => Promise<SyncEvent>; items: SyncEvent[]; addr: string };

/** `tribles relay` of `member` in the public namespace on `port` (QUIC and TCP); `addr` is its QUIC address. */
async function startRelay(member: string, port: number, extra: string[] = []): Promise<Relay> {
  const r = team!.members[member]!;
  const proc = Bun.spawn(
    [...lab!.exec(lab!.pub), ...CLI, "relay", "--pile", r.pile, "--key", r.key, "--team-root", team!.root, "--cap", r.cap!, "--listen", `/ip4/${lab!.relayAddr}/udp/${port}/quic-v1`, "--listen", `/ip4/${lab!.relayAddr}/tcp/${port}`, "--json", ...extra],
    { cwd: team!.dir, stdout: "pipe", stderr: "pipe" },
  );
  const followed = followJsonLines<SyncEvent>(proc, member);
  const listening = await followed.waitFor((e) => e.event === "listening");
  const addr = (listening.addrs as string[]).find((a) => a.includes("/quic-v1/"))!;
  expect(addr).toContain(`/p2p/${r.peerId}`);
  return { proc, ...followed, addr };
}

beforeAll(async () => {
  if (missing) return;
  lab = makeNatLab(`${process.pid % 10000}`, ["cone", "cone", "symmetric"]);
  team = await makeTeam(["relay", "a", "b", "c", "stranger", "thrifty", "d", "e", "f", "g", "h", "relay2"], { outsiders: ["stranger"] });
  // The second relay (a test below) holds the team's chains as the founder's does: members learn
  // their own chain from the peers they reach, here only a relay.
  for (const other of ["thrifty", "relay2"]) copyFileSync(join(team.dir, team.members.relay!.pile), join(team.dir, team.members[other]!.pile));
  relay = await startRelay("relay", 4001);
  relayAddr = relay.addr;
}, 60_000);

// Up to nine syncs and two relays stop here, each after its last connections close: on a busy machine that took over 30 s.
afterAll(async () => {
  try {
    await a?.stop();
    relay?.proc.kill("SIGTERM");
    await relay?.proc.exited;
    await team?.cleanup();
  } finally {
    lab?.destroy();
  }
}, 90_000);

/** Syncs a test started besides A's (shared by the tests), stopped after it even when it fails. */
const spawned: SyncProcess[] = [];
afterEach(async () => {
  await Promise.all(spawned.splice(0).map((p) => p.stop()));
}, 60_000);

/** A member's sync in home `home`, holding a reservation on the relay. */
function homeSync(member: string, home: number, extra: string[] = [], via = relayAddr): SyncProcess {
  const p = team!.sync(member, [...listenAll, "--relay", via, ...extra], lab!.exec(lab!.homes[home]!.ns));
  if (member !== "a") spawned.push(p);
  return p;
}

const viaRelay = (member: string, via = relayAddr) => `${via}/p2p-circuit/p2p/${team!.members[member]!.peerId}`;
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

test.skipIf(!!missing)(
  "a teammate behind another NAT, given by PeerId alone, is found through the relay and synced with",
  async () => {
    a ??= homeSync("a", 0);
    await reserved(a);
    // F knows the relay and A's PeerId, nothing else: the relay's DHT tells it A's relayed address.
    const f = homeSync("f", 1, ["--peers", peerIdOf("a")]);
    const found = await f.waitFor((e) => e.event === "connected" && e.addr === peerIdOf("a"), 60_000);
    expect(found.peer).toBe(peerIdOf("a"));
    const head = await team!.commit("a", "found by id", { "id.txt": "peer id alone" });
    await received(f, head);
    await f.stop();
  },
  120_000,
);

/** The relay's data limit per relayed connection in the test below (MiB), and the commit it is far smaller than. */
const THRIFTY_RELAY_MIB = 1;
const BULK_MIB = 24;

test.skipIf(!!missing)(
  "a bulk fetch begun over the relay finishes on the direct connection once hole punching made one",
  async () => {
    // A relay that cuts each relayed connection after 1 MiB: a 24 MiB commit can only arrive
    // whole over a direct connection (a fetch cut midway starts over), so its arrival shows the
    // fetch left the relay, and the relay carried at most 1 MiB per relayed connection.
    const thrifty = await startRelay("thrifty", 4002, ["--relay-mib", String(THRIFTY_RELAY_MIB)]);
    try {
      const d = homeSync("d", 0, [], thrifty.addr);
      await reserved(d);
      const random = new Uint8Array(BULK_MIB << 20);
      for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
      const bulk = await team!.commit("d", "bulk", { "bulk.bin": Buffer.from(random).toString("base64") });
      // E learns of the commit over the relayed connection, the first one it has to D.
      const e = homeSync("e", 1, ["--peers", viaRelay("d", thrifty.addr)], thrifty.addr);
      expect((await pathTo(e, "d")).path).toBe("relayed");
      await e.waitFor((ev) => ev.event === "path" && ev.peer === peerIdOf("d") && ev.path === "direct", 60_000);
      await e.waitFor((ev) => ev.event === "received" && ev.head === bulk, 90_000);
      // Each relayed connection carried at most the relay's limit, and E took part in every one
      // (D's view of them would count them twice). Fewer of them than the commit has MiB means
      // the relay alone could not have carried it: the rest came direct. How many relayed
      // connections open before the punch depends on the machine's load, so nothing tighter.
      const relayedConnections = e.events.filter((ev) => ev.event === "path" && ev.peer === peerIdOf("d") && ev.path === "relayed");
      expect(relayedConnections.length * THRIFTY_RELAY_MIB).toBeLessThan(BULK_MIB);
    } finally {
      thrifty.proc.kill("SIGTERM");
      await thrifty.proc.exited;
    }
  },
  180_000,
);

test.skipIf(!!missing)(
  "restarted with no flags behind its NAT, a peer reserves on the relay it remembered and syncs with its teammate again",
  async () => {
    a ??= homeSync("a", 0);
    await reserved(a);
    const first = homeSync("g", 1, ["--peers", viaRelay("a")]);
    await reserved(first);
    await first.waitFor((e) => e.event === "auth" && e.accepted === true && e.peer === peerIdOf("a"), 30_000);
    await first.stop();
    const book = JSON.parse(readFileSync(join(team!.dir, `${team!.members.g!.pile}.peers.json`), "utf8")) as { peers: { peer: string; role: string }[] };
    expect(book.peers.find((p) => p.peer === peerIdOf("relay"))?.role).toBe("relay");
    expect(book.peers.some((p) => p.peer === peerIdOf("a"))).toBe(true);
    // No --relay, --peers or --listen: only the book beside G's pile says where the relay and A are.
    const again = team!.sync("g", [], lab!.exec(lab!.homes[1]!.ns));
    spawned.push(again);
    const reservation = await reserved(again);
    expect((reservation.addrs as string[])[0]).toEndWith(`/p2p/${peerIdOf("relay")}/p2p-circuit/p2p/${peerIdOf("g")}`);
    await again.waitFor((e) => e.event === "connected" && e.peer === peerIdOf("a"), 60_000);
    const head = await team!.commit("a", "after g's restart", { "g.txt": "remembered" });
    await received(again, head);
  },
  150_000,
);

test.skipIf(!!missing)(
  "behind a NAT, doctor names the relay step once the relay holding the peer's reservation is down",
  async () => {
    const second = await startRelay("relay2", 4003);
    let h: SyncProcess;
    try {
      h = homeSync("h", 1, [], second.addr);
      await reserved(h);
    } finally {
      second.proc.kill("SIGTERM");
      await second.proc.exited;
    }
    await h.waitFor((e) => e.event === "reservation" && e.ok === false, 60_000);
    // The running sync (inside the home namespace) runs the checks; doctor asks it over its control socket.
    const { code, out, err } = await attempt(team!.dir, "pile", "net", "doctor", team!.members.h!.pile, "--json");
    if (!out.trim()) throw new Error(`doctor printed nothing (exit ${code}): ${err}`);
    const report = JSON.parse(out) as { checks: { step: string; status: string; detail: string; fix?: string }[]; verdict: { step?: string } };
    expect(code).toBe(1);
    expect(report.verdict.step).toBe("relay");
    const relayCheck = report.checks.find((c) => c.step === "relay")!;
    expect(relayCheck.status).toBe("fail");
    expect(relayCheck.detail).toContain(`relay ${peerIdOf("relay2")} unreachable`);
    expect(relayCheck.fix).toContain("tribles relay");
  },
  120_000,
);
