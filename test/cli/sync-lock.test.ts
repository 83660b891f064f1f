/** One `pile net sync` per pile: a second one on the same file (by any path) is refused with one line. */
import { afterEach, expect, test } from "bun:test";
import { linkSync } from "node:fs";
import { join } from "node:path";
import { attempt, listenFor, makeTeam, type Team } from "../net/e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

test("a second sync of a pile is refused while the first runs, and allowed after it stops", async () => {
  team = await makeTeam(["a"]);
  const first = team.sync("a", listenFor("tcp"));
  await first.waitFor((e) => e.event === "listening");
  const member = ["--key", "a.key", "--team-root", team.root, "--cap", team.members.a!.cap!, "--listen", "/ip4/127.0.0.1/tcp/0"];
  // The same file under another name (a hard link) is the same pile.
  linkSync(join(team.dir, "a.pile"), join(team.dir, "same.pile"));
  for (const pile of ["a.pile", join(team.dir, "same.pile")]) {
    const second = await attempt(team.dir, "pile", "net", "sync", pile, ...member);
    expect(second.code).toBe(1);
    expect(second.err.trim()).toStartWith("error: another `tribles pile net sync` is already running on");
  }
  await first.stop();
  const again = team.sync("a", listenFor("tcp"));
  await again.waitFor((e) => e.event === "listening");
}, 60_000);
