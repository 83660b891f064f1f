/**
 * Revocation and expiry reach open connections and spread to every member; refusals say why on
 * both sides. Real `tribles pile net sync` processes on 127.0.0.1 (TCP).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { attempt, firstAddr, listenFor, makeTeam, run, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const received = (head: string) => (e: { event: string; head?: unknown }) => e.event === "received" && e.head === head;
const revoke = (t: Team, member: string) => run(t.dir, "team", "revoke", t.members[member]!.publicKey, "--pile", "a.pile", "--root-key", "team-root.key", "--team-root", t.root);
const pullAs = (t: Team, member: string, addr: string) => {
  const m = t.members[member]!;
  return attempt(t.dir, "pile", "net", "pull", m.pile, addr, "--branch", "main", "--key", m.key, "--team-root", t.root, "--cap", m.cap!);
};

describe("revocation", () => {
  test("a member revoked while connected is cut off at once: its connection closes, nothing more is served, a new commit does not reach it", async () => {
    team = await makeTeam(["a", "b", "c"]);
    const first = await team.commit("a", "before", { "x.txt": "before" });
    const a = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const b = team.sync("b", [...listenFor("tcp"), "--peers", aAddr]);
    const c = team.sync("c", [...listenFor("tcp"), "--peers", aAddr]);
    await b.waitFor(received(first));
    await c.waitFor(received(first));

    await revoke(team, "b");
    // A notices the revocation in its pile (watch event, else its 1 s tick) and cuts B off.
    const ended = await a.waitFor((e) => e.event === "access-ended" && e.peer === team!.members.b!.peerId, 2000);
    expect(ended.refusal).toBe("revoked");
    expect(ended.connections).toBeGreaterThanOrEqual(1);
    expect(String(ended.reason)).toMatch(/^it was revoked on \d{4}-\d\d-\d\dT/);

    // B redials and is told why, once, and stops trying.
    const refused = await b.waitFor((e) => e.event === "refused-by" && e.peer === team!.members.a!.peerId, 10_000);
    expect(refused.refusal).toBe("revoked");
    expect(refused.retrying).toBe(false);
    // The refusing side names B and the reason in words.
    const auth = await a.waitFor((e) => e.event === "auth" && e.accepted === false && e.peer === team!.members.b!.peerId);
    expect(String(auth.reason)).toMatch(/^it was revoked on /);

    // A new commit reaches C (the witness) but not B.
    const after = await team.commit("a", "after", { "y.txt": "after" });
    await c.waitFor(received(after));
    // B learned the revocation of itself too (A's AUTH carries it), yet it gets nothing more.
    expect(b.events.some((e) => e.event === "received" && e.head === after)).toBe(false);
    // A one-shot pull with B's key is refused, and says so.
    const pull = await pullAs(team, "b", aAddr);
    expect(pull.code).not.toBe(0);
    expect(pull.err).toContain(`peer ${team.members.a!.peerId} refused our capability: it was revoked on `);
    expect(b.events.filter((e) => e.event === "refused-by" && e.peer === team!.members.a!.peerId)).toHaveLength(1);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    expect(b.events.some((e) => e.event === "received" && e.head === after)).toBe(false);
  }, 60_000);

  test("a revocation reaches a member that never saw it made; the revoked one pulls nothing through it, and its later commits are refused everywhere; a member offline meanwhile learns it on first contact", async () => {
    team = await makeTeam(["a", "b", "c", "d"]);
    const first = await team.commit("a", "before", { "x.txt": "before" });
    // A — C — B: B knows only C, and C only A.
    const a = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    // D syncs once (fetching its capability chain from A, its issuer), then goes offline.
    const dBefore = team.sync("d", [...listenFor("tcp"), "--peers", aAddr]);
    await dBefore.waitFor(received(first));
    await dBefore.stop();
    const c = team.sync("c", [...listenFor("tcp"), "--peers", aAddr, "--no-merge"]);
    const cAddr = firstAddr(await c.waitFor((e) => e.event === "listening"));
    await c.waitFor(received(first));
    const b = team.sync("b", [...listenFor("tcp"), "--peers", cAddr, "--republish", "1"]);
    await b.waitFor(received(first));

    await revoke(team, "b");
    const bPeer = team.members.b!.peerId;
    // C learns it from A (pushed, gossiped) and cuts B off.
    const learned = await c.waitFor((e) => e.event === "revocation" && e.peer === bPeer, 5000);
    expect(learned.from).not.toBe("pile");
    await c.waitFor((e) => e.event === "access-ended" && e.peer === bPeer, 5000);
    // B can pull nothing through C.
    const pull = await pullAs(team, "b", cAddr);
    expect(pull.code).not.toBe(0);
    expect(pull.err).toContain(`peer ${team.members.c!.peerId} refused our capability: it was revoked on `);

    // B's later commit is refused by C (and by A, should gossip carry it there).
    const late = await team.commit("b", "after revocation", { "b.txt": "from a revoked key" });
    const dropped = await c.waitFor((e) => e.event === "gossip-dropped" && e.publisher === bPeer, 15_000);
    expect(String(dropped.reason)).toContain("revoked");

    // D was offline: it learns the revocation on its first contact with a member (C, or A found
    // through the DHT), from that member, not from gossip.
    const d = team.sync("d", ["--peers", cAddr]);
    const dLearned = await d.waitFor((e) => e.event === "revocation" && e.peer === bPeer, 10_000);
    expect([team.members.c!.peerId, team.members.a!.peerId]).toContain(String(dLearned.from));

    for (const p of [a, b, c, d]) await p.stop();
    for (const p of [a, c, d]) expect(p.events.some((e) => e.event === "received" && e.head === late)).toBe(false);
    // Nobody stored the revoked member's later commit.
    for (const m of ["a", "c", "d"]) {
      const blobs: string[] = JSON.parse(await run(team.dir, "pile", "blob", "list", `${m}.pile`, "--json")).map((x: { hash: string } | string) => (typeof x === "string" ? x : x.hash));
      expect(blobs.length).toBeGreaterThan(0);
      expect(blobs).not.toContain(late);
    }
  }, 90_000);
});

describe("expiry", () => {
  test("a capability that expires while connected ends at its expiry instant, and both sides say so", async () => {
    team = await makeTeam(["a", "c"]);
    const a = team.members.a!;
    const short = JSON.parse(
      await run(team.dir, "pile", "create", "b.pile").then(() => run(team!.dir, "pile", "net", "identity", "--create", "--key", "b.key", "--json")),
    );
    const invite = JSON.parse(await run(team.dir, "team", "invite", short.publicKey, "--perm", "write", "--expires", "12s", "--pile", a.pile, "--key", a.key, "--team-root", team.root, "--cap", a.cap!, "--json"));
    team.members.b = { name: "b", pile: "b.pile", key: "b.key", publicKey: short.publicKey, peerId: short.peerId, cap: invite.cap };
    const first = await team.commit("a", "before", { "x.txt": "before" });
    const aSync = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await aSync.waitFor((e) => e.event === "listening"));
    const b = team.sync("b", [...listenFor("tcp"), "--peers", aAddr]);
    const c = team.sync("c", [...listenFor("tcp"), "--peers", aAddr]);
    await b.waitFor(received(first));
    // B said at start that its capability is about to expire.
    await b.waitFor((e) => e.event === "warning" && String(e.message).startsWith("your capability expires on"));
    const ended = await aSync.waitFor((e) => e.event === "access-ended" && e.peer === short.peerId, 25_000);
    expect(ended.refusal).toBe("expired");
    expect(ended.at).toBe(invite.expires.replace(/\.\d{3}Z$/, "Z"));
    const refused = await b.waitFor((e) => e.event === "refused-by" && e.peer === a.peerId, 10_000);
    expect(String(refused.reason)).toMatch(/^it expired on /);
    const after = await team.commit("a", "after", { "y.txt": "after" });
    await c.waitFor(received(after));
    for (const p of [aSync, b, c]) await p.stop();
    expect(b.events.some((e) => e.event === "received" && e.head === after)).toBe(false);
  }, 60_000);
});

describe("refusals", () => {
  test("a capability issued to another key is refused as such on both sides; a read-only member is warned at commit and never says published", async () => {
    team = await makeTeam(["a", "b", "r"]);
    const a = team.members.a!;
    const readOnly = JSON.parse(await run(team.dir, "team", "invite", team.members.r!.publicKey, "--perm", "read", "--pile", a.pile, "--key", a.key, "--team-root", team.root, "--cap", a.cap!, "--json"));
    team.members.r!.cap = readOnly.cap;
    const aSync = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await aSync.waitFor((e) => e.event === "listening"));

    // B's key with R's capability.
    const b = team.members.b!;
    const stolen = await attempt(team.dir, "pile", "net", "pull", b.pile, aAddr, "--branch", "main", "--key", b.key, "--team-root", team.root, "--cap", readOnly.cap);
    expect(stolen.code).not.toBe(0);
    expect(stolen.err).toContain(`peer ${a.peerId} refused our capability: it was not issued to this key`);
    const auth = await aSync.waitFor((e) => e.event === "auth" && e.accepted === false && e.peer === b.peerId);
    expect(auth.reason).toBe("it was not issued to this key");

    // R's sync fetches its chain from A, then says it is read-only.
    const r = team.sync("r", [...listenFor("tcp"), "--peers", aAddr]);
    await r.waitFor((e) => e.event === "warning" && String(e.message).includes("your capability is read-only"));
    // R commits: warned that peers will not accept it.
    await Bun.write(`${team.dir}/r.txt`, "read-only member's file");
    const commit = await attempt(team.dir, "pile", "commit", "r.pile", "-m", "from r", "--key", "r.key", "--team-root", team.root, "--cap", readOnly.cap, "r.txt");
    expect(commit.code).toBe(0);
    expect(commit.err).toContain("your capability is read-only: peers will not accept your commits");
    await r.waitFor((e) => e.event === "not-published");
    // A names R and why it refuses R's head.
    const dropped = await aSync.waitFor((e) => (e.event === "gossip-dropped" && e.publisher === team!.members.r!.peerId) || (e.event === "rejected" && e.publisher === team!.members.r!.peerId), 15_000);
    expect(String(dropped.reason)).toContain("read-only");
    await Promise.all([aSync.stop(), r.stop()]);
    expect(r.events.some((e) => e.event === "published")).toBe(false);
  }, 60_000);
});
