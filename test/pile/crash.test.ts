/**
 * Crash safety: a pile cut at any byte recovers every complete record before the cut (saving what
 * it cuts beside the pile: three fsyncs per cut, so these tests take a while), loses
 * nothing acknowledged, and accepts appends afterwards; a SIGKILLed writer leaves a valid pile.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { diagnosePile } from "../../src/pile/diagnose.ts";
import { Pile } from "../../src/pile/pile.ts";
import { repairTail } from "../../src/pile/repair.ts";
import { concat, handBlob, independentHash, tempDir, utf8 } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/**
 * Writes `full` cut at `cut`, opens it and checks the outcome: the file is truncated to the last
 * record end at or before the cut, exactly the records below it are present, and appends work.
 */
function checkCut(full: Uint8Array, cut: number, stable: number, ends: number[], present: Uint8Array[][], acknowledged: Uint8Array[]): void {
  const path = tmp.path("cut.pile");
  writeFileSync(path, full.subarray(0, cut));
  const pile = Pile.open(path);
  const complete = ends.filter((end) => end <= cut).length; // records of the tail fully written
  expect({ cut, size: statSync(path).size }).toEqual({ cut, size: complete === 0 ? stable : ends[complete - 1]! });
  const r = pile.reader();
  for (const h of acknowledged) expect(r.has(h)).toBe(true);
  present.forEach((hashes, k) => {
    for (const h of hashes) expect({ cut, k, has: r.has(h) }).toEqual({ cut, k, has: k < complete });
  });
  const extra = pile.put(utf8(`after-${cut}`));
  pile.close();
  const again = Pile.open(path, { create: false });
  expect(again.reader().get(extra)).toEqual(utf8(`after-${cut}`));
  again.close();
}

describe("cutting a pile at every byte of its last records", () => {
  test("small records and branch moves", () => {
    const path = tmp.path("full.pile");
    const pile = Pile.open(path);
    const acknowledged = [pile.put(utf8("base-1")), pile.put(new Uint8Array(100).fill(2))];
    const id = new Uint8Array(16).fill(5);
    pile.update(id, null, acknowledged[0]!);
    pile.flush();
    const stableLength = statSync(path).size;
    const tail = pile.putMany([new Uint8Array(130).fill(9), utf8("last")]);
    pile.update(id, acknowledged[0]!, tail[1]!);
    pile.close();
    const full = new Uint8Array(readFileSync(path));
    const ends = [stableLength + 256, stableLength + 256 + 128, full.length];
    for (let cut = stableLength; cut < full.length; cut++) checkCut(full, cut, stableLength, ends, [[tail[0]!], [tail[1]!], []], acknowledged);
  }, 120_000);

  test("a large record written through writev (payload not copied)", () => {
    const path = tmp.path("full.pile");
    const pile = Pile.open(path);
    const acknowledged = [pile.put(utf8("base"))];
    pile.flush();
    const stableLength = statSync(path).size;
    const tail = pile.putMany([new Uint8Array(70_001).fill(3), utf8("after the big one")]);
    pile.close();
    const full = new Uint8Array(readFileSync(path));
    const bigEnd = stableLength + 64 + 70_016;
    const ends = [bigEnd, full.length];
    const cuts = new Set<number>();
    for (let cut = stableLength; cut < full.length; cut += 389) cuts.add(cut);
    for (const e of [stableLength, ...ends]) for (let d = -65; d <= 65; d++) if (e + d >= stableLength && e + d < full.length) cuts.add(e + d);
    for (const cut of [...cuts].sort((a, b) => a - b)) checkCut(full, cut, stableLength, ends, [[tail[0]!], [tail[1]!]], acknowledged);
  }, 120_000);

  test("a zero-filled tail (space allocated, data never written) is truncated", () => {
    const path = tmp.path("zeros.pile");
    const pile = Pile.open(path);
    const h = pile.put(utf8("kept"));
    pile.close();
    appendFileSync(path, new Uint8Array(4096));
    const again = Pile.open(path);
    expect(statSync(path).size).toBe(128);
    expect(again.reader().get(h)).toEqual(utf8("kept"));
    again.close();
  }, 10_000);
});

test("a torn blob whose payload is itself a pile is a torn tail, cut anywhere: saved aside and truncated on open", () => {
  const inner = concat(Array.from({ length: 20_000 }, (_, i) => handBlob(utf8(`inner ${i}`), { ts: 1000n })));
  const base = handBlob(utf8("base"), { ts: 2000n });
  const outer = handBlob(inner, { ts: 2000n });
  const full = concat([base, outer]);
  // Off the inner grid (an inner record cut short), and exactly on an inner record boundary (the
  // inner records then reach the end of the file, as real records after a damaged one would).
  for (const cut of [base.length + 64 + 1000 * 128 + 17, base.length + 64 + 1000 * 128, base.length + 64 + 64 + 20]) {
    const dir = tmp.path(`cut-${cut}`);
    mkdirSync(dir);
    const path = join(dir, "nested.pile");
    writeFileSync(path, full.subarray(0, cut));
    const report = diagnosePile(path);
    expect({ cut, ok: report.ok, torn: report.corruption?.tornTail }).toEqual({ cut, ok: true, torn: true });
    const pile = Pile.open(path);
    expect(pile.repairedTails).toEqual([{ offset: base.length, bytes: cut - base.length, savedTo: `${path}.damaged-tail-${base.length}`, reason: expect.stringContaining("large blob cut short") }]);
    expect(pile.reader().get(independentHash(utf8("base")))).toEqual(utf8("base"));
    pile.close();
    expect(statSync(path).size).toBe(base.length);
    expect(new Uint8Array(readFileSync(`${path}.damaged-tail-${base.length}`))).toEqual(new Uint8Array(full.subarray(base.length, cut)));
  }
}, 30_000);

test("a torn blob whose payload holds records newer than it is ambiguous: refused, and repair --force saves it all", () => {
  // Records written after the blob header cannot be part of its payload: this could be a length
  // field damaged in the middle with real records after it, so nothing is cut on open.
  const inner = concat(Array.from({ length: 50 }, (_, i) => handBlob(utf8(`later ${i}`), { ts: 3000n })));
  const base = handBlob(utf8("base"), { ts: 2000n });
  const outer = handBlob(inner, { ts: 2000n });
  const onGrid = base.length + 64 + 30 * 128;
  const bytes = concat([base, outer]).subarray(0, onGrid);
  const path = tmp.path("nested.pile");
  writeFileSync(path, bytes);
  expect(() => Pile.open(path)).toThrow(/offset 128: blob record runs past the end of the file, and the blob record at offset 192 .* was written after it.*repair --force/);
  expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(bytes));
  expect(diagnosePile(path)).toMatchObject({ ok: false, corruption: { offset: 128, tornTail: false, nothingAfter: false } });
  // The way out: repair refuses without --force, and with it saves everything from the torn blob
  // on, then cuts there; the records before it are intact.
  expect(() => repairTail(path)).toThrow("valid-looking records follow it");
  const repair = repairTail(path, { force: true })!;
  expect(repair).toMatchObject({ offset: base.length, bytes: onGrid - base.length });
  expect(new Uint8Array(readFileSync(repair.savedTo))).toEqual(new Uint8Array(bytes.subarray(base.length)));
  const pile = Pile.open(path);
  expect(pile.reader().get(independentHash(utf8("base")))).toEqual(utf8("base"));
  pile.close();
}, 30_000);

test("a writer killed with SIGKILL mid-stream loses nothing it acknowledged", async () => {
  const path = tmp.path("killed.pile");
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/appender.ts"), path], { stdout: "pipe" });
  const acknowledged: string[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk);
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) acknowledged.push(...line.split(" "));
    }
  })();
  while (acknowledged.length < 65 * 20) await Bun.sleep(5);
  child.kill("SIGKILL");
  await child.exited;
  await reading;
  const pile = Pile.open(path);
  const r = pile.reader();
  for (const h of acknowledged) expect(r.get(Buffer.from(h, "hex"))).toBeDefined();
  pile.close();
  const report = diagnosePile(path);
  expect(report.corruption).toBeUndefined();
  expect(report.ok).toBe(true);
}, 60_000);
