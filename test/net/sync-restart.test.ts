/**
 * A sync process killed with SIGKILL and restarted at once with the same key (same PeerId) must be
 * synced again within seconds. Over QUIC the other side learns nothing of the old process's death
 * (no RST) and still holds its connection when the new process connects.
 */
import { afterEach, describe, test } from "bun:test";
import { firstAddr, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const received = (head: string) => (e: { event: string; head?: unknown }) => e.event === "received" && e.head === head;

describe.each(["quic", "tcp"] as const)("over %s", (transport) => {
  test("a peer killed and restarted at once with the same key receives the other side's next head", async () => {
    team = await makeTeam(["a", "b"]);
    const a = team.sync("a", listenFor(transport));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const bArgs = [...listenFor(transport), "--peers", aAddr];
    const first = team.sync("b", bArgs);
    const before = await team.commit("a", "before the kill", { "a1.txt": "one" });
    await first.waitFor(received(before), 10_000);

    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const b = team.sync("b", bArgs);
    await b.waitFor((e) => e.event === "connected", 10_000);
    const after = await team.commit("a", "after the restart", { "a2.txt": "two" });
    // Bounded: before the stale-connection ping (STALE_PROBE_MS) this took minutes over QUIC.
    await b.waitFor(received(after), 15_000);
  }, 60_000);
});
