/**
 * `pile net doctor` against real sync processes on 127.0.0.1: all checks pass for a reachable
 * member; the verdict names the failing step when the peer is down, when the remembered relay is
 * down, when the peer refuses our capability, and when no sync runs for the pile.
 */
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { attempt, firstAddr, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
}, 30_000); // stopping three syncs can outlast the default 5 s hook limit on a loaded machine

interface Report {
  checks: { step: string; status: string; detail: string; fix?: string }[];
  verdict: { ok: boolean; step?: string; message: string; fix?: string };
}

async function doctor(t: Team, ...args: string[]): Promise<{ code: number; report: Report; out: string }> {
  const { code, out, err } = await attempt(t.dir, "pile", "net", "doctor", ...args, "--json");
  if (!out.trim()) throw new Error(`doctor printed nothing (exit ${code}): ${err}`);
  return { code, report: JSON.parse(out), out };
}

const step = (r: Report, name: string) => r.checks.find((c) => c.step === name);

test("doctor: a reachable member passes; a peer that is down fails at the direct step", async () => {
  team = await makeTeam(["a", "b"]);
  const a = team.sync("a", listenFor("tcp"));
  await a.waitFor((e) => e.event === "listening");
  const b = team.sync("b", listenFor("tcp"));
  const bAddr = firstAddr(await b.waitFor((e) => e.event === "listening"));

  const ok = await doctor(team, "a.pile", bAddr);
  expect(ok.report.verdict).toEqual({ ok: true, message: "no failing check: you can reach that peer and it accepts your capability (but see the warning: listening)" });
  expect(ok.code).toBe(0);
  expect(step(ok.report, "capability")?.status).toBe("ok");
  expect(step(ok.report, "relay")).toEqual({ step: "relay", status: "skip", detail: "no relay configured (none remembered, none connected)" });
  // Listening on 127.0.0.1 only is what a teammate on another machine cannot use.
  expect(step(ok.report, "listening")?.status).toBe("warn");
  expect(step(ok.report, "listening")?.fix).toContain("without --listen");
  await b.stop();

  const down = await doctor(team, "a.pile", bAddr);
  expect(down.code).toBe(1);
  expect(down.report.verdict.step).toBe("direct");
  const direct = step(down.report, "direct")!;
  expect(direct.status).toBe("fail");
  expect(direct.detail).toContain("cannot reach it directly");
  expect(down.report.checks.map((c) => c.step)).not.toContain("capability");

  const text = await attempt(team.dir, "pile", "net", "doctor", "a.pile", bAddr);
  expect(text.out).toContain("FAIL direct: cannot reach it directly");
}, 60_000);

test("doctor: the verdict names the capability step when the peer refuses us", async () => {
  team = await makeTeam(["a", "x"], { outsiders: ["x"] });
  const a = team.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  // x runs no sync: its doctor's own node presents x's (missing) capability to a.
  const { report, code } = await doctor(team, "x.pile", aAddr, "--key", "x.key", "--team-root", team.root);
  expect(code).toBe(1);
  expect(step(report, "listening")?.detail).toContain("no sync is running for this pile");
  expect(step(report, "direct")?.status).toBe("ok");
  const cap = step(report, "capability")!;
  expect(cap.status).toBe("fail");
  expect(cap.detail).toContain("refuses your capability");
  expect(cap.fix).toContain("tribles team invite");
}, 60_000);

test("doctor: a remembered relay that is down fails at the relay step", async () => {
  team = await makeTeam(["a", "r"]);
  // A relay a remembered from an earlier run, at an address where nothing listens now.
  const relay = team.members.r!.peerId;
  const entry = { peer: relay, role: "relay", addrs: [`/ip4/127.0.0.1/tcp/9/p2p/${relay}`], lastSeen: Date.now() };
  writeFileSync(join(team.dir, "a.pile.peers.json"), JSON.stringify({ version: 1, peers: [entry] }));
  const a = team.sync("a", listenFor("tcp"));
  await a.waitFor((e) => e.event === "listening");
  const { report, code } = await doctor(team, "a.pile");
  expect(code).toBe(1);
  expect(report.verdict.step).toBe("relay");
  const relayCheck = step(report, "relay")!;
  expect(relayCheck.status).toBe("fail");
  expect(relayCheck.detail).toContain(`relay ${relay} unreachable`);
  expect(relayCheck.fix).toContain("tribles relay");
}, 60_000);
