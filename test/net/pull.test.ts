/** `tribles pile net pull`: one-shot fetch of a named branch from a running peer, through the real CLI. */
import { afterEach, expect, test } from "bun:test";
import { attempt, firstAddr, listenFor, makeTeam, run, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

test("pull fetches a branch into a tracking branch, then finds nothing new; clear errors otherwise", async () => {
  team = await makeTeam(["a", "b", "eve"], { outsiders: ["eve"] });
  const head = await team.commit("a", "to pull", { "p.txt": "pulled bytes", "q.txt": "more bytes" });
  const a = team.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  const b = team.members.b!;
  const pull = (...extra: string[]) => ["pile", "net", "pull", b.pile, aAddr, "--key", b.key, "--team-root", team!.root, "--cap", b.cap!, ...extra];

  const first = JSON.parse(await run(team.dir, ...pull("--json")));
  expect(first.status).toBe("applied");
  expect(first.blobs).toBeGreaterThan(4);
  expect(first.bytes).toBeGreaterThan(0);
  const tracking = JSON.parse(await run(team.dir, "pile", "branch", "list", b.pile, "--json")).filter((x: { tracking: boolean }) => x.tracking);
  expect(tracking).toHaveLength(1);
  expect(tracking[0].id).toBe(first.tracking);
  const shown = JSON.parse(await run(team.dir, "pile", "branch", "show", b.pile, first.tracking, "--json"));
  expect(shown.head).toBe(head);

  const again = JSON.parse(await run(team.dir, ...pull("--json")));
  expect(again.blobs).toBe(0);

  const unknown = await attempt(team.dir, ...pull("--branch", "nope"));
  expect(unknown.code).not.toBe(0);
  expect(unknown.err).toContain('no branch "nope"');

  const eve = team.members.eve!;
  const rejected = await attempt(team.dir, "pile", "net", "pull", eve.pile, aAddr, "--key", eve.key, "--team-root", team.root);
  expect(rejected.code).not.toBe(0);
  expect(rejected.err).toContain(`peer ${team.members.a!.peerId} refused our capability: no capability was presented`);
  expect(JSON.parse(await run(team.dir, "pile", "blob", "list", eve.pile, "--json"))).toEqual([]);

  const badAddr = await attempt(team.dir, ...pull().map((x) => (x === aAddr ? "not-a-multiaddr" : x)));
  expect(badAddr.code).not.toBe(0);
  expect(badAddr.err).toContain("invalid multiaddr");

  await a.stop();
  const gone = await attempt(team.dir, ...pull());
  expect(gone.code).not.toBe(0);
  expect(gone.err).toContain("cannot reach");
  expect(gone.err.trim().split("\n")).toHaveLength(1);
}, 60_000);
