/**
 * The attacks of issue 13 against a real `pile net sync` node (separate processes, loopback): for
 * each, the time an honest member's commit takes to reach the victim and the victim's peak RSS,
 * quiet and then with the attacker running (test/net/fixtures/hostile-peer.ts), and the ratio
 * attacked/quiet. A commit that has not arrived after ARRIVAL_CAP_MS counts as that long (marked
 * in the row's name). Run: `npm run bench -- hostile`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hash } from "../src/core/blake3.ts";
import { toHex } from "../src/core/bytes.ts";
import { firstAddr, listenFor, makeTeam, type Team } from "../test/net/e2e-helpers.ts";
import type { HostileConfig, HostileMode } from "../test/net/fixtures/hostile-peer.ts";
import { credentials, peakRssMiB, startAttacker } from "../test/net/fixtures/hostile-harness.ts";
import { type BenchRow, median, report } from "./lib.ts";

const COMMITS = Number(process.env.HOSTILE_COMMITS ?? 5);
const ARRIVAL_CAP_MS = Number(process.env.HOSTILE_CAP_MS ?? 10_000);

interface Attack {
  mode: HostileMode;
  label: string;
  config: (vAddr: string, t: Team, attacker: ReturnType<typeof credentials>, bigBlob: string) => HostileConfig;
}

const ATTACKS: Attack[] = [
  { mode: "flood", label: "hash flood (CHILDREN reply of 131,072 hashes sharing 4 bytes)", config: (target, _t, a) => ({ mode: "flood", target, ...a }) },
  { mode: "amplify", label: "CPU amplification (CHILDREN_MANY of one 1 MiB blob × 4096, pipelined)", config: (target, _t, a, blob) => ({ mode: "amplify", target, blob, ...a }) },
  { mode: "exhaust", label: "connection exhaustion (300 strangers)", config: (target) => ({ mode: "exhaust", target, connections: 300 }) },
  { mode: "preauth", label: "pre-auth memory (80 × 1 MiB AUTH, slow and half-open streams)", config: (target) => ({ mode: "preauth", target, connections: 8, streams: 2 }) },
  { mode: "endless", label: "endless DAG (64 new children per blob, forever)", config: (target, _t, a) => ({ mode: "endless", target, ...a }) },
  { mode: "silent", label: "silent peer (answers AUTH, then nothing)", config: (target, _t, a) => ({ mode: "silent", target, ...a }) },
];

/** Milliseconds from a finished commit on h to its arrival at v (capped). */
async function arrival(t: Team, v: ReturnType<Team["sync"]>, tag: string): Promise<{ ms: number; capped: boolean }> {
  const head = await t.commit("h", tag, { [`${tag}.txt`]: tag });
  const committed = Date.now();
  try {
    const e = await v.waitFor((e) => e.event === "received" && e.head === head, ARRIVAL_CAP_MS);
    return { ms: Math.max(0, (e.time as number) - committed), capped: false };
  } catch {
    return { ms: ARRIVAL_CAP_MS, capped: true };
  }
}

async function measure(attack: Attack): Promise<BenchRow[]> {
  const t = await makeTeam(["v", "h", "m"]);
  let attacker: Awaited<ReturnType<typeof startAttacker>> | undefined;
  try {
    const creds = credentials(t, "m");
    // A large file the attacker may read (for the amplification).
    const big = new Uint8Array(1 << 20);
    for (let at = 0; at < big.length; at += 65_536) big.set(crypto.getRandomValues(new Uint8Array(65_536)), at);
    await t.commit("v", "a large file", { "big.bin": Buffer.from(big).toString("latin1") });
    const bigBlob = toHex(hash(new Uint8Array(readFileSync(join(t.dir, "big.bin")))));
    const v = t.sync("v", listenFor("tcp"));
    const vAddr = firstAddr(await v.waitFor((e) => e.event === "listening"));
    t.sync("h", [...listenFor("tcp"), "--peers", vAddr]);
    await v.waitFor((e) => e.event === "auth" && e.accepted === true);
    for (let i = 0; i < 2; i++) await arrival(t, v, `warmup-${i}`);
    const quiet: number[] = [];
    for (let i = 0; i < COMMITS; i++) quiet.push((await arrival(t, v, `quiet-${i}`)).ms);
    const quietRss = peakRssMiB(v.proc.pid);
    attacker = await startAttacker(attack.config(vAddr, t, creds, bigBlob));
    const attacked: number[] = [];
    let capped = 0;
    for (let i = 0; i < COMMITS; i++) {
      const r = await arrival(t, v, `attacked-${i}`);
      attacked.push(r.ms);
      if (r.capped) capped++;
    }
    const attackedRss = peakRssMiB(v.proc.pid);
    const name = (what: string) => `${attack.label}: ${what}`;
    const arrivalName = name(`honest commit arrival${capped ? ` (${capped}/${COMMITS} not arrived in ${ARRIVAL_CAP_MS / 1000} s)` : ""}`);
    return [
      { name: arrivalName, impl: "quiet", value: median(quiet), unit: "ms" },
      { name: arrivalName, impl: "attacked", value: median(attacked), unit: "ms", referenceImpl: "quiet" },
      { name: name("victim peak RSS"), impl: "quiet", value: quietRss, unit: "MiB" },
      { name: name("victim peak RSS"), impl: "attacked", value: attackedRss, unit: "MiB", referenceImpl: "quiet" },
    ];
  } finally {
    attacker?.proc.kill("SIGKILL");
    await t.cleanup();
  }
}

const wanted = new Set((process.env.HOSTILE_ATTACKS ?? "").split(",").filter(Boolean));
const rows: BenchRow[] = [];
for (const attack of ATTACKS) {
  if (wanted.size && !wanted.has(attack.mode)) continue;
  try {
    rows.push(...(await measure(attack)));
  } catch (err) {
    console.error(`${attack.mode}: ${(err as Error).message.split("\n")[0]}`);
    rows.push({ name: `${attack.label}: failed to run`, impl: "attacked", value: Number.NaN, unit: "" });
  }
}
report("hostile", rows);
process.exit(0);
