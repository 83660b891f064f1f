/** Several processes append and compare-and-swap one branch at once (real processes, one file). */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../src/core/bytes.ts";
import { diagnosePile } from "../../src/pile/diagnose.ts";
import { Pile } from "../../src/pile/pile.ts";
import { scanRecords } from "../../src/pile/scan.ts";
import { tempDir } from "./helpers.ts";

interface WorkerOutput {
  stored: string[];
  won: { prev: string | null; next: string }[];
}

test("4 processes append and CAS one branch: every blob readable, no update lost", async () => {
  const tmp = tempDir();
  try {
    const path = tmp.path("shared.pile");
    Pile.open(path).close();
    const rounds = 40;
    const children = [0, 1, 2, 3].map((w) =>
      Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/worker.ts"), path, String(w), String(rounds)], { stdout: "pipe" }),
    );
    const outputs: WorkerOutput[] = await Promise.all(children.map(async (c) => JSON.parse(await new Response(c.stdout).text())));
    for (const c of children) expect(await c.exited).toBe(0);

    const pile = Pile.open(path);
    const reader = pile.reader();
    for (const { stored } of outputs) for (const h of stored) expect(reader.get(Buffer.from(h, "hex"))).toBeDefined();

    // Replay the branch records in file order. Every move a worker won must be exactly one record,
    // and its expected value must be the head just before it: a chain with no lost update.
    const bytes = new Uint8Array(readFileSync(path));
    const heads: string[] = [];
    const result = scanRecords(bytes, 0, bytes.length, {
      blob() {},
      branch(at, isHead) {
        expect(isHead).toBe(true);
        heads.push(toHex(bytes.subarray(at + 32, at + 64)));
      },
    });
    expect(result.ok).toBe(true);
    const wins = new Map(outputs.flatMap((o) => o.won).map((w) => [w.next, w.prev]));
    expect(wins.size).toBe(4 * rounds);
    expect(heads.length).toBe(4 * rounds);
    for (const [i, h] of heads.entries()) expect(wins.get(h)).toBe(i === 0 ? null : heads[i - 1]!);
    expect(toHex(pile.head(new Uint8Array(16).fill(0xab))!)).toBe(heads.at(-1)!);

    const report = diagnosePile(path);
    expect(report.ok).toBe(true);
    expect(report.badBlobs).toEqual([]);
    expect(report.distinctBlobs).toBe(new Set(outputs.flatMap((o) => o.stored)).size);
    pile.close();
  } finally {
    tmp.cleanup();
  }
}, 60_000);
