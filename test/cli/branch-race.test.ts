/**
 * Creating a branch by name is atomic across processes: several `tribles pile commit` processes
 * making the first commit to one new branch name at the same moment leave one branch with that
 * name, holding every commit.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SigningKey } from "../../src/core/ed25519.ts";
import { decodeLongString } from "../../src/core/longstring.ts";
import { lockExclusive, unlock } from "../../src/pile/flock.ts";
import { Pile } from "../../src/pile/pile.ts";
import { filesInContent } from "../../src/repo/files.ts";
import { Repository } from "../../src/repo/repository.ts";
import { until } from "../net/fixtures/until.ts";
import { tempDir } from "../pile/helpers.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
const WRITERS = 5;
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("tribles-branch-race-");
});
afterEach(() => tmp.cleanup());

/** Processes waiting for a flock on the file with inode `ino` (from /proc/locks: "N: -> FLOCK …"). */
function waitersOn(ino: number): number {
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .filter((line) => line.includes("->") && line.includes("FLOCK") && line.split(/\s+/).some((field) => field.endsWith(`:${ino}`))).length;
}

test(`${WRITERS} processes making the first commit to one new branch name create one branch`, async () => {
  const path = tmp.path("race.pile");
  Pile.open(path).close();
  writeFileSync(tmp.path("self.key"), Buffer.from(SigningKey.generate().seed()).toString("hex"), { mode: 0o600 });
  for (let w = 0; w < WRITERS; w++) writeFileSync(tmp.path(`w${w}.txt`), `written by ${w}`);
  // Hold the pile's exclusive lock until every writer waits on it, so they all start together:
  // each one's lookup of the name then races the others' creation.
  const fd = openSync(path, "r");
  lockExclusive(fd);
  const env: Record<string, string | undefined> = { ...process.env, TRIBLES_DEBUG: "" };
  delete env.TRIBLESPACE_KEY;
  const children = Array.from({ length: WRITERS }, (_, w) =>
    Bun.spawn([process.execPath, MAIN, "pile", "commit", "race.pile", `w${w}.txt`, "--branch", "fresh", "-m", `commit ${w}`], { cwd: tmp.dir, stdout: "pipe", stderr: "pipe", env }),
  );
  try {
    await until(() => waitersOn(statSync(path).ino) === WRITERS, 30_000);
  } finally {
    unlock(fd);
    closeSync(fd);
  }
  const results = await Promise.all(children.map(async (c) => ({ code: await c.exited, err: await new Response(c.stderr).text() })));
  expect(results).toEqual(Array.from({ length: WRITERS }, () => ({ code: 0, err: "" })));

  const pile = Pile.open(path);
  try {
    const repo = new Repository(pile);
    const named = repo.listBranches().filter((b) => b.name === "fresh");
    expect(named.length).toBe(1);
    const reader = pile.reader();
    const files = filesInContent(repo.checkout(named[0]!.meta.head!)).map((f) => decodeLongString(reader.get(f.nameHandle)!));
    expect(files.sort()).toEqual(Array.from({ length: WRITERS }, (_, w) => `w${w}.txt`));
  } finally {
    pile.close();
  }
}, 60_000);
