import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { Pile } from "../../src/pile/pile.ts";
import { scanRecords } from "../../src/pile/scan.ts";
import { tempDir } from "./helpers.ts";

test("4 processes append and CAS one branch: nothing lost, every win was a head", async () => {
  const tmp = tempDir();
  try {
    const path = tmp.path("shared.pile");
    Pile.open(path).close();
    const rounds = 40;
    const children = [0, 1, 2, 3].map((w) =>
      Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/worker.ts"), path, String(w), String(rounds)], { stdout: "pipe" }),
    );
    const outputs = await Promise.all(children.map(async (c) => JSON.parse(await new Response(c.stdout).text())));
    for (const c of children) expect(await c.exited).toBe(0);

    const pile = Pile.open(path);
    const reader = pile.reader();
    for (const { stored } of outputs) for (const h of stored as string[]) expect(reader.get(fromHex(h))).toBeDefined();

    // Replay branch records in file order: every CAS winner's value must appear as a head.
    const bytes = new Uint8Array(readFileSync(path));
    const heads = new Set<string>();
    const result = scanRecords(bytes, 0, bytes.length, {
      blob() {},
      branch(at, isHead) {
        if (isHead) heads.add(toHex(bytes.subarray(at + 32, at + 64)));
      },
    });
    expect(result.ok).toBe(true);
    const wins = outputs.flatMap((o) => o.won as string[]);
    expect(wins.length).toBe(4 * rounds);
    for (const w of wins) expect(heads.has(w)).toBe(true);
    expect(heads.size).toBe(4 * rounds);
    pile.close();
  } finally {
    tmp.cleanup();
  }
}, 60_000);
