/** TeamSync's durability policy: the store is flushed after each round of sync work (a real node on 127.0.0.1). */
import { expect, test } from "bun:test";
import { createTeam } from "../../src/auth/team.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { TeamSync } from "../../src/net/team-sync.ts";

/** A memory store that counts its flushes, as a pile would make its writes durable. */
class CountingStore extends MemoryStore {
  flushes = 0;
  flush(): void {
    this.flushes++;
  }
}

async function started(flushEachRound?: boolean) {
  const key = SigningKey.generate();
  const team = createTeam(key.publicKey);
  const store = new CountingStore();
  store.putMany([team.capability.blob, team.capability.sigBlob]);
  const sync = await TeamSync.start({ store, key, teamRoot: team.teamRoot, capability: team.capability.sigHandle, listen: ["/ip4/127.0.0.1/tcp/0"], ...(flushEachRound === undefined ? {} : { flushEachRound }) });
  return { store, sync };
}

test("each round of sync work flushes the store, and so does stop", async () => {
  const { store, sync } = await started();
  const before = store.flushes;
  sync.refresh();
  expect(store.flushes).toBe(before + 1);
  await sync.stop();
  expect(store.flushes).toBeGreaterThan(before + 1);
}, 20_000);

test("flushEachRound: false leaves durability to the caller", async () => {
  const { store, sync } = await started(false);
  sync.refresh();
  await sync.stop();
  expect(store.flushes).toBe(0);
}, 20_000);
