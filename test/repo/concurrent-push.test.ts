/** Three real processes push to one branch of one pile file; the branch must end up with every commit. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { toHex } from "../../src/core/bytes.ts";
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
    const rounds = 60;
    const startAt = Date.now() + 400;
    const children = [0, 1, 2].map((w) =>
      Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/pusher.ts"), path, String(w), String(rounds), String(startAt)], { stdout: "pipe", stderr: "inherit" }),
    );
    const authors = await Promise.all(children.map(async (c) => (await new Response(c.stdout).text()).trim()));
    for (const c of children) expect(await c.exited).toBe(0);

    const reopened = Pile.open(path);
    try {
      const repo = new Repository(reopened);
      const main = repo.requireBranch("main");
      const head = main.meta.head!;
      const facts = [...repo.checkout(head)].map((t) => shortStringFromValue(t.subarray(32)));
      const expected = [0, 1, 2].flatMap((w) => Array.from({ length: rounds }, (_, i) => `w${w}-${i}`));
      expect(facts.sort()).toEqual(expected.sort());
      // Every authored commit is in the history exactly once, and every signature holds.
      const { signer, commits } = repo.verifyBranch(main);
      expect(authors).toContain(toHex(signer!));
      const authored = commits.filter((c) => c.author);
      expect(authored.length).toBe(3 * rounds);
      expect(new Set(authored.map((c) => toHex(c.author!)))).toEqual(new Set(authors));
      // The pushes really raced: conflicts were resolved with merge commits.
      expect(commits.length - authored.length).toBeGreaterThan(0);
    } finally {
      reopened.close();
    }
  } finally {
    tmp.cleanup();
  }
}, 60_000);
