import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { toHex } from "../../src/core/bytes.ts";
import { firstAddr, listenFor, makeTeam, run, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const received = (head: string) => (e: { event: string; head?: unknown }) => e.event === "received" && e.head === head;

for (const transport of ["quic", "tcp"] as const) {
  describe(`sync over ${transport}`, () => {
    test("a commit on A reaches B and C (which knows only B); edits on both sides merge and converge", async () => {
      team = await makeTeam(["a", "b", "c"]);
      const a = team.sync("a", listenFor(transport));
      const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
      const b = team.sync("b", [...listenFor(transport), "--peers", aAddr]);
      const bAddr = firstAddr(await b.waitFor((e) => e.event === "listening"));
      await a.waitFor((e) => e.event === "auth" && e.accepted === true);
      // C is given only B: A's heads reach it through B's gossip, and C finds A through the DHT.
      const c = team.sync("c", [...listenFor(transport), "--peers", bAddr]);
      await c.waitFor((e) => e.event === "auth" && e.accepted === true);

      const fromA = await team.commit("a", "from a", { "a.txt": "alpha" });
      await b.waitFor(received(fromA));
      await c.waitFor(received(fromA));
      await b.waitFor((e) => e.event === "merged");
      const fromB = await team.commit("b", "from b", { "b.txt": "beta" });
      await a.waitFor(received(fromB));
      await a.waitFor((e) => e.event === "merged" && e.head === fromB);
      await c.waitFor(received(fromB));

      for (const p of [a, b, c]) await p.stop();
      const heads = await Promise.all(["a", "b", "c"].map(async (m) => JSON.parse(await run(team!.dir, "pile", "branch", "show", `${m}.pile`, "main", "--json")).head));
      expect(heads[0]).toBe(fromB);
      expect(heads[1]).toBe(fromB);
      expect(heads[2]).toBe(fromB);
      const log = JSON.parse(await run(team.dir, "pile", "log", "a.pile", "--json"));
      expect(log.map((c: { message: string }) => c.message)).toEqual(["from b", "from a"]);
      // C, which only ever talked to B, writes out the files committed on A and on B.
      await run(team.dir, "pile", "checkout", "c.pile", "--out", "c-files");
      expect(readFileSync(join(team.dir, "c-files", "a.txt"), "utf8")).toBe("alpha");
      expect(readFileSync(join(team.dir, "c-files", "b.txt"), "utf8")).toBe("beta");
    }, 60_000);
  });
}

describe("recovery", () => {
  test("a tracking branch moved without its merge (a sync stopped in between, or a pull) is merged when sync next hears it", async () => {
    team = await makeTeam(["a", "b"]);
    const a = team.sync("a", [...listenFor("tcp"), "--republish", "1"]);
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const head = await team.commit("a", "from a", { "a.txt": "alpha" });
    // A pull moves b's tracking branch only: the state a sync killed before its merge leaves.
    const b = team.members.b!;
    await run(team.dir, "pile", "net", "pull", b.pile, aAddr, "--branch", "main", "--key", b.key, "--team-root", team.root, "--cap", b.cap!);
    expect(JSON.parse(await run(team.dir, "pile", "files", b.pile, "--json")).files.map((f: { name: string }) => f.name)).toEqual(["a.txt"]);
    await expect(run(team.dir, "pile", "branch", "show", b.pile, "main", "--json")).resolves.toContain('"tracking": true');
    // The next sync of b hears the same head again ("unchanged") and merges it.
    const bSync = team.sync("b", ["--peers", aAddr]);
    const merged = await bSync.waitFor((e) => e.event === "merged", 20_000);
    expect(merged.head).toBe(head);
    await bSync.stop();
    await a.stop();
    const local = JSON.parse(await run(team.dir, "pile", "log", b.pile, "--branch", "main", "--json"));
    expect(local[0].hash).toBe(head);
  }, 60_000);
});

describe("access and direction", () => {
  test("a peer without a capability gets nothing; a revoked one is refused", async () => {
    team = await makeTeam(["a", "b", "eve"], { outsiders: ["eve"] });
    await run(team.dir, "team", "revoke", team.members.b!.publicKey, "--pile", "a.pile", "--root-key", "team-root.key");
    const secret = await team.commit("a", "secret", { "s.txt": "classified" });
    const a = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const eve = team.sync("eve", [...listenFor("tcp"), "--peers", aAddr]);
    const b = team.sync("b", [...listenFor("tcp"), "--peers", aAddr]);
    // Eve presents no capability at all, and is told so (not "signature 0000… not found").
    const rejected = await a.waitFor((e) => e.event === "auth" && e.accepted === false && e.reason === "no capability presented");
    expect(rejected.peer).toBe(team.members.eve!.peerId);
    const revoked = await a.waitFor((e) => e.event === "auth" && e.accepted === false && String(e.reason).includes("revoked"));
    expect(revoked.accepted).toBe(false);
    // Both are told they were refused: from then on their connections carry nothing of A's.
    await eve.waitFor((e) => e.event === "refused-by");
    await b.waitFor((e) => e.event === "refused-by");
    for (const p of [a, eve, b]) await p.stop();
    expect(eve.events.some((e) => e.event === "received")).toBe(false);
    expect(b.events.some((e) => e.event === "received")).toBe(false);
    const eveBlobs = await run(team.dir, "pile", "blob", "list", "eve.pile", "--json");
    expect(JSON.parse(eveBlobs)).toEqual([]);
    expect(secret).toHaveLength(64);
  }, 60_000);

  test("a peer whose capability covers one branch gets that branch's blobs and nothing of the others", async () => {
    team = await makeTeam(["a", "r"], { outsiders: ["r"] });
    const shared = await team.commit("a", "shared", { "open.txt": "for everyone" });
    await Bun.write(`${team.dir}/plan.txt`, "classified plan");
    await run(team.dir, "pile", "commit", "a.pile", "--branch", "secret", "-m", "secret", "--key", "a.key", "plan.txt");
    const a = team.members.a!;
    const invite = JSON.parse(
      await run(team.dir, "team", "invite", team.members.r!.publicKey, "--perm", "read", "--branch", "main", "--pile", a.pile, "--key", a.key, "--team-root", team.root, "--cap", a.cap!, "--json"),
    );
    team.members.r!.cap = invite.cap;

    const aProc = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await aProc.waitFor((e) => e.event === "listening"));
    const r = team.sync("r", [...listenFor("tcp"), "--peers", aAddr]);
    await r.waitFor(received(shared));
    // A later commit on main reaches R after the secret branch's head had every chance to (both
    // heads were announced at connection; the secret's blobs are out of R's scope).
    const later = await team.commit("a", "later", { "later.txt": "also for everyone" });
    await r.waitFor(received(later));
    await Promise.all([aProc.stop(), r.stop()]);
    expect([...new Set(r.events.filter((e) => e.event === "received").map((e) => e.branch))]).toEqual(["main"]);
    const rBlobs: string[] = JSON.parse(await run(team.dir, "pile", "blob", "list", "r.pile", "--json")).map((b: { hash: string } | string) => (typeof b === "string" ? b : b.hash));
    expect(rBlobs).toContain(toHex(blake3(new TextEncoder().encode("for everyone"))));
    expect(rBlobs).not.toContain(toHex(blake3(new TextEncoder().encode("classified plan"))));
  }, 60_000);

  test("readonly receives but never publishes; writeonly publishes but never applies", async () => {
    team = await makeTeam(["a", "r", "w"]);
    const a = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const r = team.sync("r", [...listenFor("tcp"), "--peers", aAddr, "--direction", "readonly"]);
    const w = team.sync("w", [...listenFor("tcp"), "--peers", aAddr, "--direction", "writeonly"]);
    await r.waitFor((e) => e.event === "auth" && e.accepted === true);
    await w.waitFor((e) => e.event === "auth" && e.accepted === true);
    const fromA = await team.commit("a", "from a", { "a.txt": "alpha" });
    await r.waitFor(received(fromA));
    const fromR = await team.commit("r", "from r", { "r.txt": "rho" });
    const fromW = await team.commit("w", "from w", { "w.txt": "omega" });
    await a.waitFor(received(fromW));
    // R applies a later head of A's: its sync loop has run since its own commit, and published nothing.
    const fromA2 = await team.commit("a", "from a again", { "a2.txt": "alpha again" });
    await r.waitFor(received(fromA2));
    for (const p of [a, r, w]) await p.stop();
    expect(a.events.some((e) => e.event === "received" && e.head === fromR)).toBe(false);
    expect(r.events.some((e) => e.event === "published")).toBe(false);
    expect(w.events.some((e) => e.event === "received")).toBe(false);
    const wBranches = JSON.parse(await run(team.dir, "pile", "branch", "list", "w.pile", "--json"));
    expect(wBranches.filter((b: { tracking: boolean }) => b.tracking)).toEqual([]);
  }, 60_000);

  test("a late joiner gets the heads published before it started", async () => {
    team = await makeTeam(["a", "late"]);
    const before = await team.commit("a", "before", { "x.txt": "x" });
    const a = team.sync("a", [...listenFor("tcp"), "--republish", "1"]);
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    await a.waitFor((e) => e.event === "published");
    const late = team.sync("late", [...listenFor("tcp"), "--peers", aAddr]);
    const got = await late.waitFor(received(before), 10_000);
    expect(got.branch).toBe("main");
  }, 30_000);
});
