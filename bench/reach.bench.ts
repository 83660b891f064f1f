/**
 * Reaching peers behind NATs (`npm run bench -- reach`), in network namespaces (as root; see
 * test/net/netns/nat-lab.ts): two homes behind port-keeping ("cone") NAT routers and one behind a
 * `--random-fully` ("symmetric") one, a team relay in the public namespace, and a plain veth link
 * between the first two homes as the LAN reference. Real `tribles` processes.
 *
 * Measured: time from a commit (the `pile commit` process done) to its arrival at the other home
 * (the receiver's "received" event), relayed, direct after hole punching (TCP, DCUtR) and over the
 * LAN; W2 (64 × 1 MiB) fetch throughput on the same three paths; and how many of N tries per NAT
 * type end with a direct connection (hole punching), each try a fresh sync process dialling the
 * first home through the relay, with the time from its start to the direct connection. Every step
 * has its own time limit (STEP_MS), so a stuck step fails the bench rather than hanging it.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { followJsonLines, type SyncEvent, type SyncProcess } from "../src/cli/sync-process.ts";
import { CLI, makeTeam, run } from "../test/net/e2e-helpers.ts";
import { makeNatLab, natLabMissing } from "../test/net/netns/nat-lab.ts";
import { type BenchRow, median, report } from "./lib.ts";

const missing = natLabMissing();
if (missing) {
  console.error(`reach bench skipped: ${missing}`);
  process.exit(0);
}
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const TRIES = Number(process.env.TRIES ?? 3);
/** How long a try waits for hole punching to give a direct connection (DCUtR makes 3 attempts of 5 s within this). */
const PUNCH_WAIT_MS = 20_000;
/** The limit of any other step (a process starting or stopping, a reservation, a connection). */
const STEP_MS = 30_000;

/** `p`, or an error naming `step` once `ms` have passed. */
async function bounded<T>(step: string, p: Promise<T>, ms = STEP_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`reach bench: ${step} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const rows: BenchRow[] = [];
const lab = makeNatLab(`b${process.pid % 1000}`, ["cone", "cone", "symmetric"]);
const team = await makeTeam(["relay", "a", "b", "c"]);
const listenAll = ["--listen", "/ip4/0.0.0.0/udp/0/quic-v1", "--listen", "/ip4/0.0.0.0/tcp/0"];
try {
  const lan = lab.lan();
  const r = team.members.relay!;
  // The relay listens on QUIC only at first, so that no home learns a TCP mapping (hole punching is
  // over TCP) and the relayed run stays relayed; it restarts with TCP too for the punched runs.
  const startRelay = async (listen: string[]) => {
    const proc = Bun.spawn([...lab.exec(lab.pub), ...CLI, "relay", "--pile", r.pile, "--key", r.key, "--team-root", team.root, "--cap", r.cap!, ...listen.flatMap((l) => ["--listen", l]), "--json"], {
      cwd: team.dir,
      stdout: "pipe",
      stderr: "pipe",
    });
    const events = followJsonLines<SyncEvent>(proc, "relay");
    const addrs = (await events.waitFor((e) => e.event === "listening", STEP_MS)).addrs as string[];
    return { proc, quic: addrs.find((x) => x.includes("/quic-v1/"))! };
  };
  const quicListen = `/ip4/${lab.relayAddr}/udp/4001/quic-v1`;
  let relay = await startRelay([quicListen]);
  const relayQuic = relay.quic;
  const viaRelay = `${relayQuic}/p2p-circuit/p2p/${team.members.a!.peerId}`;
  const a = team.sync("a", [...listenAll, "--relay", relayQuic], lab.exec(lab.homes[0]!.ns));
  const aListen = (await a.waitFor((e) => e.event === "listening", STEP_MS)).addrs as string[];
  const aLan = aListen.find((x) => x.startsWith(`/ip4/${lan.a}/udp/`))!;
  await a.waitFor((e) => e.event === "reservation" && e.ok === true, STEP_MS);
  const stop = (p: SyncProcess) => bounded("stopping a sync", p.stop());
  const isPathToA = (e: SyncEvent) => e.event === "path" && e.peer === team.members.a!.peerId;

  let n = 0;
  /** Commits on A and returns ms until `b` says it arrived. */
  const arrival = async (b: SyncProcess, files: Record<string, string | Uint8Array>): Promise<{ ms: number; fetched?: SyncEvent }> => {
    const dir = join(team.dir, `c${n++}`);
    mkdirSync(dir);
    for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
    const m = team.members.a!;
    const out = JSON.parse(await bounded("pile commit", run(dir, "pile", "commit", join(team.dir, m.pile), "-m", `round ${n}`, "--key", join(team.dir, m.key), "--json", ...Object.keys(files))));
    const done = Date.now();
    const got = await b.waitFor((e) => e.event === "received" && e.head === out.commit, 120_000);
    const fetched = b.events.findLast((e) => e.event === "fetched" && (e.time as number) <= (got.time as number));
    return { ms: (got.time as number) - done, ...(fetched ? { fetched } : {}) };
  };

  const measure = async (label: string, b: SyncProcess) => {
    await b.waitFor((e) => e.event === "auth" && e.peer === team.members.a!.peerId && e.accepted === true, STEP_MS);
    const lat: number[] = [];
    for (let i = 0; i < ROUNDS; i++) lat.push((await arrival(b, { [`r${i}.txt`]: `round ${i} ${label}` })).ms);
    rows.push({ name: "commit → arrival across two homes", impl: label, value: median(lat), unit: "ms", higherIsBetter: false, referenceImpl: "LAN (veth)" });
    const w2: Record<string, Uint8Array> = {};
    for (let i = 0; i < 64; i++) w2[`w2-${i}.bin`] = randomBytes(1 << 20);
    const { fetched } = await arrival(b, w2);
    if (fetched) rows.push({ name: "W2 (64 × 1 MiB) fetch", impl: label, value: (fetched.bytes as number) / 1e6 / ((fetched.ms as number) / 1000), unit: "MB/s", referenceImpl: "LAN (veth)" });
    const path = b.events.findLast(isPathToA);
    console.error(`${label}: path ${path ? `${path.path} ${path.transport}` : "?"}, latencies ${lat.join(" ")} ms, W2 ${JSON.stringify(fetched)}`);
  };

  // LAN reference first: B dials A's veth address, no relay.
  const bLan = team.sync("b", ["--listen", `/ip4/${lan.b}/udp/0/quic-v1`, "--peers", aLan], lab.exec(lab.homes[1]!.ns));
  await measure("LAN (veth)", bLan);
  await stop(bLan);
  // B remembers A's LAN address (and learns it again from A): without the link, only the relay
  // or a punched hole reaches A.
  lan.remove();
  // Relayed: B behind the second cone NAT knows A only through the relay.
  const bRelayed = team.sync("b", [...listenAll, "--relay", relayQuic, "--peers", viaRelay], lab.exec(lab.homes[1]!.ns));
  await measure("relayed (two cone NATs)", bRelayed);
  if (bRelayed.events.some((e) => isPathToA(e) && e.path === "direct")) throw new Error("reach bench: the relayed run went direct");
  await stop(bRelayed);
  relay.proc.kill("SIGTERM");
  await bounded("stopping the relay", relay.proc.exited);
  const restarted = Date.now();
  relay = await startRelay([quicListen, `/ip4/${lab.relayAddr}/tcp/4001`]);
  await a.waitFor((e) => e.event === "reachability" && (e.time as number) > restarted && (e.mapped as string[]).length > 0, 60_000);
  // Direct after hole punching: B holds a reservation too, so both sides offer a mapping.
  const bPunched = team.sync("b", [...listenAll, "--relay", relayQuic, "--peers", viaRelay], lab.exec(lab.homes[1]!.ns));
  await bPunched.waitFor((e) => isPathToA(e) && e.path === "direct", PUNCH_WAIT_MS + STEP_MS);
  await measure("direct after hole punching (two cone NATs)", bPunched);
  await stop(bPunched);

  // Hole punching: N fresh tries per NAT type.
  for (const [member, home, kind] of [["b", 1, "cone"], ["c", 2, "symmetric"]] as const) {
    let direct = 0;
    const toDirect: number[] = [];
    for (let t = 0; t < TRIES; t++) {
      const p = team.sync(member, [...listenAll, "--relay", relayQuic, "--peers", viaRelay], lab.exec(lab.homes[home]!.ns));
      const started = (await p.waitFor((e) => e.event === "listening", STEP_MS)).time as number;
      await p.waitFor(isPathToA, STEP_MS);
      const punched = await p.waitFor((e) => isPathToA(e) && e.path === "direct", PUNCH_WAIT_MS).then(
        (e) => e,
        () => undefined,
      );
      if (punched) {
        direct++;
        toDirect.push((punched.time as number) - started);
      }
      await stop(p);
    }
    rows.push({ name: `hole punch, ${kind} NAT ↔ cone NAT`, impl: "DCUtR over TCP", value: direct, unit: `of ${TRIES} direct` });
    if (toDirect.length) rows.push({ name: `start → direct, ${kind} NAT ↔ cone NAT`, impl: "DCUtR over TCP", value: median(toDirect), unit: "ms", higherIsBetter: false });
  }
  await stop(a);
  relay.proc.kill("SIGTERM");
  await bounded("stopping the relay", relay.proc.exited);
} finally {
  await team.cleanup();
  lab.destroy();
}
report("reach", rows);
