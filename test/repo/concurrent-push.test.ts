import { expect, test } from "bun:test";
import { join } from "node:path";
import { shortStringFromValue } from "../../src/core/schemas.ts";
import { Pile } from "../../src/pile/pile.ts";
import { Repository } from "../../src/repo/repository.ts";
import { tempDir } from "../pile/helpers.ts";

test("3 processes pushing to one branch converge with no lost commit", async () => {
  const tmp = tempDir();
  try {
    const path = tmp.path("repo.pile");
    const pile = Pile.open(path);
    new Repository(pile).createBranch("main");
    pile.close();
    const rounds = 40;
    const children = [0, 1, 2].map((w) => Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/pusher.ts"), path, String(w), String(rounds)], { stderr: "inherit" }));
    for (const c of children) expect(await c.exited).toBe(0);
    const reopened = Pile.open(path);
    const repo = new Repository(reopened);
    const head = repo.requireBranch("main").meta.head!;
    const facts = [...repo.checkout(head)].map((t) => shortStringFromValue(t.subarray(32)));
    const expected = [0, 1, 2].flatMap((w) => Array.from({ length: rounds }, (_, i) => `w${w}-${i}`));
    expect(facts.sort()).toEqual(expected.sort());
    // Every authored commit is in the history exactly once.
    const messages = [...repo.ancestors(head)].map((h) => repo.commitInfo(h)).filter((c) => c.content);
    expect(messages.length).toBe(3 * rounds);
    reopened.close();
  } finally {
    tmp.cleanup();
  }
}, 60_000);
