/** Pile behaviour: snapshots, refresh, duplicates, damaged payloads, corruption, branches, errors. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../src/core/bytes.ts";
import { PileCorruptError, PileError, PileIntegrityError } from "../../src/pile/errors.ts";
import { TAIL_MAX } from "../../src/pile/file-view.ts";
import { tryLockExclusive, unlock } from "../../src/pile/flock.ts";
import { diagnosePile } from "../../src/pile/diagnose.ts";
import { Pile } from "../../src/pile/pile.ts";
import { repairTail } from "../../src/pile/repair.ts";
import { concat, handBlob, handBranch, independentHash, tempDir, utf8 } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe("snapshots and refresh", () => {
  test("a snapshot never sees later appends; duplicate puts write nothing", () => {
    const pile = Pile.open(tmp.path("s.pile"));
    const a = pile.put(utf8("a"));
    const snap = pile.reader();
    const size = statSync(tmp.path("s.pile")).size;
    pile.put(utf8("a"));
    pile.putMany([utf8("a"), utf8("a")]);
    expect(statSync(tmp.path("s.pile")).size).toBe(size);
    const [b, c] = pile.putMany([utf8("b"), utf8("c"), utf8("b")]);
    expect(statSync(tmp.path("s.pile")).size).toBe(size + 2 * 128); // "b" once within the batch
    expect(snap.has(b!)).toBe(false);
    expect(snap.get(c!)).toBeUndefined();
    expect([...snap.list()].map(toHex)).toEqual([toHex(a)]);
    expect(snap.len).toBe(1);
    const now = pile.reader();
    expect(now.len).toBe(3);
    expect([...now.listFrom(1)].map(toHex)).toEqual([toHex(b!), toHex(c!)]);
    pile.close();
  }, 10_000);

  test("snapshots stay intact across tail reads and re-maps while another handle appends MiBs", () => {
    const writer = Pile.open(tmp.path("r.pile"));
    const reader = Pile.open(tmp.path("r.pile"));
    const first = writer.put(utf8("first"));
    const snaps = [reader.reader()];
    const hashes: Uint8Array[] = [];
    const blob = (i: number) => new Uint8Array(3000).fill(i & 255).map((x, j) => (j < 4 ? (i >> (8 * j)) & 255 : x));
    // Single small appends, refreshing after each: these are read into the tail, not re-mapped.
    for (let i = 0; i < 200; i++) {
      hashes.push(writer.put(blob(i)));
      snaps.push(reader.reader());
    }
    expect(reader.mappingCount).toBe(0);
    // Then enough bytes to overflow the tail: the view re-maps, rarely.
    const big = Array.from({ length: Math.ceil((2 * TAIL_MAX) / 3000) }, (_, i) => blob(1000 + i));
    for (let i = 0; i < big.length; i += 100) hashes.push(...writer.putMany(big.slice(i, i + 100)));
    const last = reader.reader();
    expect(reader.mappingCount).toBeGreaterThan(0);
    expect(reader.mappingCount).toBeLessThanOrEqual(3);
    expect(last.len).toBe(1 + hashes.length);
    for (const [k, h] of hashes.entries()) expect(last.get(h)).toEqual(k < 200 ? blob(k) : big[k - 200]!);
    // Every old snapshot still reads exactly its own prefix.
    for (const [n, snap] of snaps.entries()) {
      expect(snap.get(first)).toEqual(utf8("first"));
      expect(snap.len).toBe(1 + n);
      if (n > 0) expect(snap.get(hashes[n - 1]!)).toEqual(blob(n - 1));
      expect(snap.has(hashes[n]!)).toBe(false);
    }
    writer.close();
    reader.close();
  }, 30_000);

  test("another handle's appends appear on refresh; idle refresh changes nothing", () => {
    const one = Pile.open(tmp.path("c.pile"));
    const two = Pile.open(tmp.path("c.pile"));
    const h = one.put(utf8("x"));
    expect(two.reader().has(h)).toBe(true);
    const length = two.length;
    for (let i = 0; i < 1000; i++) two.refresh();
    expect(two.length).toBe(length);
    expect(two.mappingCount).toBe(0);
    one.close();
    two.close();
  }, 10_000);

  test("a child process's appends and branch moves appear on refresh", async () => {
    const path = tmp.path("p.pile");
    const pile = Pile.open(path);
    const script = join(import.meta.dir, "fixtures/worker.ts");
    const child = Bun.spawn([process.execPath, script, path, "7", "3"], { stdout: "pipe" });
    const out = JSON.parse(await new Response(child.stdout).text()) as { stored: string[]; won: { next: string }[] };
    expect(await child.exited).toBe(0);
    const r = pile.reader();
    for (const h of out.stored) expect(r.has(Buffer.from(h, "hex"))).toBe(true);
    expect(toHex(pile.head(new Uint8Array(16).fill(0xab))!)).toBe(out.won.at(-1)!.next);
    pile.close();
  }, 30_000);
});

describe("duplicates and damaged payloads", () => {
  test("a damaged payload is an error naming its offset; a later valid copy is served", () => {
    const pile = Pile.open(tmp.path("d.pile"));
    pile.put(utf8("first"));
    const h = pile.put(utf8("second"));
    pile.close();
    const bytes = readFileSync(tmp.path("d.pile"));
    bytes[128 + 64]! ^= 0xff;
    writeFileSync(tmp.path("d.pile"), bytes);
    const again = Pile.open(tmp.path("d.pile"));
    const damaged = again.reader();
    expect(damaged.has(h)).toBe(true); // presence is by header; reading verifies
    expect(() => damaged.get(h)).toThrow(PileIntegrityError);
    expect(() => damaged.get(h)).toThrow("offset 128");
    // put notices the stored copy is bad and appends a good one; old snapshots still refuse.
    again.put(utf8("second"));
    expect(statSync(tmp.path("d.pile")).size).toBe(bytes.length + 128);
    expect(again.reader().get(h)).toEqual(utf8("second"));
    expect(() => damaged.get(h)).toThrow(PileIntegrityError);
    again.close();
  }, 10_000);

  test("§6.2 duplicate rule: the first valid record of a hash wins, in any order", () => {
    const payload = utf8("twice");
    const h = independentHash(payload);
    const good = handBlob(payload, { ts: 1n });
    const bad = handBlob(utf8("twicf"), { ts: 2n, hash: h }); // header claims h, payload differs
    const cases: [string, Uint8Array[], string | null][] = [
      ["valid then damaged", [good, bad], "ok"],
      ["damaged then valid", [bad, good], "ok"],
      ["damaged, damaged, valid", [bad, bad, good], "ok"],
      ["damaged twice", [bad, bad], null],
    ];
    for (const [name, records, expected] of cases) {
      const path = tmp.path(`${name}.pile`);
      writeFileSync(path, concat(records));
      const pile = Pile.open(path);
      const r = pile.reader();
      expect(r.len).toBe(1);
      if (expected) expect(r.get(h)).toEqual(payload);
      else expect(() => r.get(h)).toThrow("offset 0");
      pile.close();
    }
  }, 10_000);

  test("checkMany verifies a batch with the same outcome as reading each blob", () => {
    const small = Array.from({ length: 9 }, (_, i) => utf8(`small ${i}`));
    const large = new Uint8Array(10_000).fill(3);
    const twice = utf8("twice");
    const h = independentHash(twice);
    const lone = utf8("lone");
    const hLone = independentHash(lone);
    const records = [
      ...small.map((b) => handBlob(b)),
      handBlob(large),
      handBlob(utf8("twicf"), { hash: h }), // damaged first record of h…
      handBlob(twice), // …and a valid later one
      handBlob(utf8("lonf"), { hash: hLone }), // damaged, no other copy
    ];
    const path = tmp.path("check.pile");
    writeFileSync(path, concat(records));
    const pile = Pile.open(path);
    const r = pile.reader();
    const all = [...small.map(independentHash), independentHash(large), h, hLone, independentHash(utf8("absent"))];
    r.checkMany(all);
    r.checkMany(all); // a second call finds everything checked already
    expect(small.map((b) => r.get(independentHash(b)))).toEqual(small);
    expect(r.get(independentHash(large))).toEqual(large);
    expect(r.get(h)).toEqual(twice);
    expect(() => r.get(hLone)).toThrow(PileIntegrityError);
    expect(r.get(independentHash(utf8("absent")))).toBeUndefined();
    pile.close();
  }, 10_000);

  test("refresh never hashes: a damaged duplicate costs nothing until read", () => {
    const h = independentHash(utf8("dup"));
    const path = tmp.path("lazy.pile");
    writeFileSync(path, concat([handBlob(utf8("dup")), handBlob(utf8("dux"), { hash: h })]));
    const pile = Pile.open(path);
    expect(pile.reader().get(h)).toEqual(utf8("dup"));
    pile.close();
  }, 10_000);
});


describe("putVerified (hashes computed by the caller)", () => {
  test("stores under the given hashes, skips what is held, and rejects malformed arguments", () => {
    const pile = Pile.open(tmp.path("v.pile"));
    const blobs = [utf8("x"), utf8("y"), new Uint8Array(5000).fill(7)];
    const hashes = blobs.map(independentHash);
    pile.put(blobs[0]!);
    const size = statSync(tmp.path("v.pile")).size;
    pile.putVerified(blobs, hashes);
    expect(statSync(tmp.path("v.pile")).size).toBe(size + 128 + 5120); // "x" was held already
    const r = pile.reader();
    expect(hashes.map((h) => r.get(h))).toEqual(blobs);
    expect(() => pile.putVerified(blobs, hashes.slice(1))).toThrow("3 blobs but 2 hashes");
    expect(() => pile.putVerified([utf8("z")], [new Uint8Array(31)])).toThrow("32 bytes");
    expect(statSync(tmp.path("v.pile")).size).toBe(size + 128 + 5120);
    pile.close();
    // Another handle reads the same records.
    const again = Pile.open(tmp.path("v.pile"));
    expect(again.reader().get(hashes[2]!)).toEqual(blobs[2]);
    again.close();
  }, 10_000);

  test("a wrong hash is never served: the record reads as damaged, in this handle and the next", () => {
    const pile = Pile.open(tmp.path("w.pile"));
    const claimed = independentHash(utf8("what was asked for"));
    pile.putVerified([utf8("what arrived instead")], [claimed]);
    expect(pile.reader().has(claimed)).toBe(true); // presence is by header; reading verifies
    expect(() => pile.reader().get(claimed)).toThrow(PileIntegrityError);
    // A correct copy put later is served (the §6.2 rule: the first valid record wins).
    pile.put(utf8("what was asked for"));
    expect(pile.reader().get(claimed)).toEqual(utf8("what was asked for"));
    pile.close();
    const again = Pile.open(tmp.path("w.pile"));
    expect(again.reader().get(claimed)).toEqual(utf8("what was asked for"));
    again.close();
  }, 10_000);
});
describe("records over the atomic-write limit", () => {
  test("are written under the exclusive lock as header, payload, padding; dedupe still applies", () => {
    const path = tmp.path("huge.pile");
    const pile = Pile.open(path, { atomicWriteLimit: 1024 });
    const small = utf8("small");
    const big = new Uint8Array(5000).map((_, i) => i & 255);
    const [hs, hb] = pile.putMany([small, big, small]);
    expect(statSync(path).size).toBe(128 + 64 + 5056);
    pile.put(big); // already present and valid: nothing written
    expect(statSync(path).size).toBe(128 + 64 + 5056);
    const other = Pile.open(path);
    expect(other.reader().get(hb!)).toEqual(big);
    expect(other.reader().get(hs!)).toEqual(small);
    other.close();
    pile.close();
  }, 10_000);
});

describe("corruption", () => {
  const three = () => concat([handBlob(utf8("one")), handBlob(utf8("two")), handBlob(utf8("three"))]);

  test("bad magic in the middle is reported with its offset; the file is untouched", () => {
    const bytes = three();
    bytes[128]! ^= 1;
    writeFileSync(tmp.path("m.pile"), bytes);
    expect(() => Pile.open(tmp.path("m.pile"))).toThrow(PileCorruptError);
    expect(() => Pile.open(tmp.path("m.pile"))).toThrow(/m\.pile: corrupt record at offset 128: unknown record magic/);
    expect(new Uint8Array(readFileSync(tmp.path("m.pile")))).toEqual(new Uint8Array(bytes));
  }, 10_000);

  test("bad magic at offset 0 followed by valid records is reported", () => {
    const bytes = three();
    bytes[0] = 0;
    writeFileSync(tmp.path("z.pile"), bytes);
    expect(() => Pile.open(tmp.path("z.pile"))).toThrow("offset 0");
  }, 10_000);

  test("huge length fields in the middle are reported, never allocated", () => {
    for (const length of [1_000_000n, 2n ** 40n, 2n ** 63n + 1n, 0xffff_ffff_ffff_ffffn]) {
      const bytes = three();
      new DataView(bytes.buffer).setBigUint64(128 + 24, length, true);
      writeFileSync(tmp.path("l.pile"), bytes);
      expect(() => Pile.open(tmp.path("l.pile"))).toThrow("offset 128");
      expect(new Uint8Array(readFileSync(tmp.path("l.pile")))).toEqual(new Uint8Array(bytes));
    }
  }, 10_000);

  test("a nil branch id in the middle is reported", () => {
    const bytes = concat([handBlob(utf8("one")), handBranch(new Uint8Array(16), independentHash(utf8("x"))), handBlob(utf8("two"))]);
    writeFileSync(tmp.path("n.pile"), bytes);
    expect(() => Pile.open(tmp.path("n.pile"))).toThrow(/offset 128: branch record with a nil branch id/);
  }, 10_000);

  /** `three()` with the length field of its last record set to `length`. */
  const lastLength = (b: Uint8Array, length: bigint) => {
    new DataView(b.buffer).setBigUint64(256 + 24, length, true);
    return b;
  };

  test("an interrupted append at the end is a torn tail: saved beside the pile, truncated, and reported to the caller", () => {
    const variants: [string, (b: Uint8Array) => Uint8Array][] = [
      ["payload cut short", (b) => b.subarray(0, 256 + 64 + 2)],
      ["header cut short", (b) => b.subarray(0, 256 + 40)],
      ["part of a magic", (b) => b.subarray(0, 256 + 7)],
      ["length past EOF, payload cut short", (b) => lastLength(b, 1_000_000n).subarray(0, 256 + 64 + 3)],
      ["zeros", (b) => b.fill(0, 256)],
    ];
    for (const [name, damage] of variants) {
      const dir = tmp.path(name.replaceAll(" ", "-").replaceAll(",", ""));
      mkdirSync(dir);
      const path = join(dir, "t.pile");
      const bytes = damage(three());
      writeFileSync(path, bytes);
      const pile = Pile.open(path);
      expect({ name, size: statSync(path).size, repaired: pile.repairedTails.map((t) => [t.offset, t.savedTo]) }).toEqual({ name, size: 256, repaired: [[256, `${path}.damaged-tail-256`]] });
      expect(new Uint8Array(readFileSync(`${path}.damaged-tail-256`))).toEqual(new Uint8Array(bytes.subarray(256)));
      expect(pile.reader().get(independentHash(utf8("two")))).toEqual(utf8("two"));
      pile.close();
    }
  }, 10_000);

  test("the same offset torn twice keeps both saved copies", () => {
    const path = tmp.path("twice.pile");
    writeFileSync(path, three().subarray(0, 256 + 70));
    Pile.open(path).close();
    writeFileSync(path, three().subarray(0, 256 + 9));
    Pile.open(path).close();
    expect(statSync(path).size).toBe(256);
    expect(new Uint8Array(readFileSync(`${path}.damaged-tail-256`))).toEqual(new Uint8Array(three().subarray(256, 256 + 70)));
    expect(new Uint8Array(readFileSync(`${path}.damaged-tail-256.2`))).toEqual(new Uint8Array(three().subarray(256, 256 + 9)));
  }, 10_000);

  test("a last record whose length field is damaged (its payload verifies) is refused, never cut on open", () => {
    const path = tmp.path("len.pile");
    const bytes = lastLength(three(), 1_000_000n);
    writeFileSync(path, bytes);
    expect(() => Pile.open(path)).toThrow(/offset 256: .*payload verifies with 5 bytes/);
    expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(bytes));
    const report = diagnosePile(path);
    expect(report.ok).toBe(false);
    expect(report.corruption).toMatchObject({ offset: 256, tornTail: false, nothingAfter: false });
    expect(() => repairTail(path)).toThrow("valid-looking records follow it");
    expect(repairTail(path, { force: true })).toMatchObject({ offset: 256, bytes: 128 });
  }, 10_000);

  test("a damaged last record that no crash could leave is reported, untouched, and repairTail saves it aside", () => {
    const variants: [string, (b: Uint8Array) => Uint8Array][] = [
      ["huge length", (b) => lastLength(b, 2n ** 63n + 1n)],
      ["zeroed magic, header intact", (b) => b.fill(0, 256, 272)],
      ["bytes that are no magic's prefix", (b) => concat([b.subarray(0, 256), utf8("# notes")])],
      ["a document appended", (b) => concat([b, utf8("# my notes\n".repeat(300))])],
    ];
    for (const [name, damage] of variants) {
      const path = tmp.path(`d-${name.replaceAll(" ", "-").replaceAll("'", "")}.pile`);
      const bytes = damage(three());
      writeFileSync(path, bytes);
      const offset = name === "a document appended" ? 384 : 256;
      expect(() => Pile.open(path)).toThrow(PileCorruptError);
      expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(bytes));
      expect(diagnosePile(path).corruption).toMatchObject({ offset, tornTail: false, nothingAfter: true });
      const repair = repairTail(path)!;
      expect({ name, offset: repair.offset }).toEqual({ name, offset });
      expect(new Uint8Array(readFileSync(repair.savedTo))).toEqual(new Uint8Array(bytes.subarray(offset)));
      const pile = Pile.open(path);
      expect(pile.reader().get(independentHash(utf8("two")))).toEqual(utf8("two"));
      pile.close();
      expect(repairTail(path)).toBeNull();
    }
  }, 10_000);

  test("a file that holds no pile records is not a pile: refused untouched, never truncated", () => {
    for (const bytes of [utf8("# a markdown document\n".repeat(100)), crypto.getRandomValues(new Uint8Array(5000)), utf8("hello")]) {
      writeFileSync(tmp.path("doc.md"), bytes);
      expect(() => Pile.open(tmp.path("doc.md"))).toThrow("not a pile");
      expect(() => repairTail(tmp.path("doc.md"))).toThrow("not a pile");
      expect(new Uint8Array(readFileSync(tmp.path("doc.md")))).toEqual(new Uint8Array(bytes));
    }
  }, 10_000);

  test("a live handle never appends after a torn tail: it truncates it first", () => {
    const path = tmp.path("live.pile");
    const pile = Pile.open(path);
    const a = pile.put(utf8("a"));
    // A writer "crashes" mid-append: half a header lands at the end.
    appendFileSync(path, handBlob(utf8("lost")).subarray(0, 40));
    pile.refresh(); // an incomplete record may be an append in progress: tolerated
    const b = pile.put(utf8("b"));
    const id = new Uint8Array(16).fill(1);
    pile.update(id, null, b);
    pile.close();
    expect(statSync(path).size).toBe(128 * 2 + 64);
    const again = Pile.open(path);
    expect(again.reader().get(a)).toEqual(utf8("a"));
    expect(again.head(id)).toEqual(b);
    again.close();
  }, 10_000);

  test("refresh reports corruption appended by someone else", () => {
    const path = tmp.path("late.pile");
    const pile = Pile.open(path);
    pile.put(utf8("a"));
    const garbage = handBlob(utf8("x"));
    garbage[3]! ^= 0xff;
    appendFileSync(path, concat([garbage, handBlob(utf8("valid after"))]));
    expect(() => pile.refresh()).toThrow(/offset 128/);
    expect(statSync(path).size).toBe(128 * 3);
    pile.close();
  }, 10_000);
});

describe("branches", () => {
  test("compare-and-swap reports the current head on conflict; delete is a tombstone", () => {
    const one = Pile.open(tmp.path("c.pile"));
    const two = Pile.open(tmp.path("c.pile"));
    const [h1, h2] = one.putMany([utf8("1"), utf8("2")]);
    const id = new Uint8Array(16).fill(1);
    expect(one.update(id, null, h1!)).toEqual({ ok: true });
    expect(two.update(id, null, h2!)).toEqual({ ok: false, current: h1! });
    expect(two.update(id, h2!, h1!)).toEqual({ ok: false, current: h1! });
    expect(two.update(id, h1!, h2!)).toEqual({ ok: true });
    expect(one.head(id)).toEqual(h2!);
    expect(one.update(id, h2!, null)).toEqual({ ok: true });
    expect(two.branches()).toEqual([]);
    expect(two.head(id)).toBeNull();
    expect(two.update(id, h2!, h1!)).toEqual({ ok: false, current: null });
    one.close();
    two.close();
  }, 10_000);

  test("many branches with similar ids", () => {
    const pile = Pile.open(tmp.path("many.pile"));
    const ids = Array.from({ length: 300 }, (_, i) => {
      const id = new Uint8Array(16);
      id[0] = 1;
      id[15] = i & 255;
      id[14] = i >> 8;
      return id;
    });
    const h = pile.put(utf8("meta"));
    for (const id of ids) expect(pile.update(id, null, h).ok).toBe(true);
    for (const id of ids.slice(0, 100)) expect(pile.update(id, h, null).ok).toBe(true);
    pile.close();
    const again = Pile.open(tmp.path("many.pile"));
    expect(again.branches().map(toHex)).toEqual(ids.slice(100).map(toHex));
    again.close();
  }, 10_000);

  test("invalid arguments are rejected before anything is written", () => {
    const pile = Pile.open(tmp.path("arg.pile"));
    const h = pile.put(utf8("x"));
    expect(() => pile.update(new Uint8Array(16), null, h)).toThrow("nil");
    expect(() => pile.update(new Uint8Array(15).fill(1), null, h)).toThrow("16 bytes");
    expect(() => pile.update(new Uint8Array(16).fill(1), null, h.subarray(1))).toThrow("32-byte");
    expect(statSync(tmp.path("arg.pile")).size).toBe(128);
    pile.close();
  }, 10_000);
});

describe("withExclusiveLock", () => {
  test("holds the lock across the handle's own reads and writes, which work inside and nest", () => {
    const path = tmp.path("x.pile");
    const pile = Pile.open(path);
    const other = Pile.open(path);
    const id = new Uint8Array(16).fill(4);
    const probe = openSync(path, "r");
    try {
      const inside = pile.withExclusiveLock(() => {
        // Another descriptor cannot take the lock while we hold it.
        expect(tryLockExclusive(probe)).toBe(false);
        const h = pile.put(utf8("inside"));
        expect(pile.update(id, null, h).ok).toBe(true);
        expect(pile.withExclusiveLock(() => pile.head(id))).toEqual(h);
        expect(tryLockExclusive(probe)).toBe(false);
        return h;
      });
      expect(tryLockExclusive(probe)).toBe(true);
      unlock(probe);
      expect(other.head(id)).toEqual(inside);
      expect(other.reader().get(inside)).toEqual(utf8("inside"));
    } finally {
      closeSync(probe);
      pile.close();
      other.close();
    }
  }, 10_000);
});

describe("opening", () => {
  test("open creates by default; create: false refuses a missing file", () => {
    expect(() => Pile.open(tmp.path("missing.pile"), { create: false })).toThrow(PileError);
    expect(() => Pile.open(tmp.path("missing.pile"), { create: false })).toThrow("no such pile");
    const pile = Pile.open(tmp.path("new.pile"));
    expect(pile.reader().len).toBe(0);
    pile.close();
    expect(statSync(tmp.path("new.pile")).size).toBe(0);
  }, 10_000);

  test("a directory is not a pile; a closed pile refuses work", () => {
    mkdirSync(tmp.path("dir.pile"));
    expect(() => Pile.open(tmp.path("dir.pile"))).toThrow(/dir\.pile/);
    const pile = Pile.open(tmp.path("x.pile"));
    pile.close();
    expect(() => pile.put(utf8("x"))).toThrow("closed");
  }, 10_000);
});

describe("diagnose", () => {
  test("reports every damaged blob, small (batch-hashed) or large, in file order, and reports progress", () => {
    const records: Uint8Array[] = [];
    const damaged: number[] = [];
    let offset = 0;
    for (let i = 0; i < 2600; i++) {
      const payload = i % 500 === 7 ? new Uint8Array(9000).fill(i & 255) : utf8(`blob ${i}`);
      const bad = i % 397 === 3 || i === 2507;
      const record = bad ? handBlob(payload, { hash: independentHash(utf8(`not blob ${i}`)) }) : handBlob(payload);
      if (bad) damaged.push(offset);
      records.push(record);
      offset += record.length;
    }
    const path = tmp.path("diag.pile");
    writeFileSync(path, concat(records));
    const progress: number[] = [];
    const report = diagnosePile(path, (checked, total) => {
      expect(total).toBe(offset);
      progress.push(checked);
    });
    expect(report.blobRecords).toBe(2600);
    expect(report.badBlobs.map((b) => b.offset)).toEqual(damaged);
    expect(report.ok).toBe(false);
    expect(progress.at(-1)).toBe(offset);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  }, 20_000);
});
