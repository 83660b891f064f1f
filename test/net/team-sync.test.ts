/** TeamSync's durability policy: the store is flushed after each round of sync work, off the event loop when it can be (a real node on 127.0.0.1). */
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

/**
 * A store whose background flushes finish only when the test lets them (`finish`), as a pile's
 * fsync on a worker thread takes its time.
 */
class SlowFlushStore extends CountingStore {
  started = 0;
  finished = 0;
  private pending: (() => void)[] = [];
  flushAsync(): Promise<void> {
    this.started++;
    return new Promise((resolve) =>
      this.pending.push(() => {
        this.finished++;
        resolve();
      }),
    );
  }
  /** Background flushes still running at each blocking flush. */
  pendingAtBlockingFlush: number[] = [];
  override flush(): void {
    this.pendingAtBlockingFlush.push(this.pending.length);
    super.flush();
  }
  finish(): void {
    for (const done of this.pending.splice(0)) done();
  }
}

async function started<S extends CountingStore>(flushEachRound?: boolean, store: S = new CountingStore() as S) {
  const key = SigningKey.generate();
  const team = createTeam(key.publicKey);
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

test("rounds flush in the background when the store can, one at a time, and stop waits for it", async () => {
  const { store, sync } = await started(undefined, new SlowFlushStore());
  store.finish(); // the first round's
  await Bun.sleep(0);
  const before = store.started;
  sync.refresh();
  expect(store.started).toBe(before + 1);
  // Rounds that end while that flush runs share one more, started once it is done.
  sync.refresh();
  sync.refresh();
  expect(store.started).toBe(before + 1);
  store.finish();
  await Bun.sleep(0);
  expect(store.started).toBe(before + 2);
  store.finish();
  await Bun.sleep(0);
  expect(store.flushes).toBe(0); // no blocking flush so far
  // stop's last round starts a flush; it is let finish only once the node has stopped, so a
  // stop that did not wait for it would make its final blocking flush while it still runs.
  const stopping = sync.stop();
  expect(store.started).toBe(before + 3);
  while (sync.node.host.status !== "stopped") await Bun.sleep(5);
  store.finish();
  await stopping;
  expect(store.flushes).toBe(1);
  expect(store.pendingAtBlockingFlush).toEqual([0]);
}, 20_000);
