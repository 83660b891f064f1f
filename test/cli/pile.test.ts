/** The pile commands, run as a real child process against real files. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { tempDir } from "../pile/helpers.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("tribles-cli-");
});
afterEach(() => tmp.cleanup());

interface Run {
  code: number;
  stdout: Uint8Array;
  out: string;
  err: string;
}

/** Runs `tribles …` in the temp dir, optionally feeding stdin. */
async function tribles(args: string[], stdin?: Uint8Array): Promise<Run> {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: tmp.dir,
    stdin: stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, TRIBLES_DEBUG: "" },
  });
  const [stdout, err] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  return { code, stdout, out: new TextDecoder().decode(stdout), err };
}

const hexOf = (bytes: Uint8Array) => Buffer.from(blake3(bytes)).toString("hex");

/** A failed command: non-zero exit, exactly one `error:` line naming `mention`. */
function expectOneLineError(r: Run, mention: string): void {
  expect(r.code).not.toBe(0);
  const lines = r.err.trimEnd().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]!).toStartWith("error: ");
  expect(lines[0]!).toContain(mention);
}

describe("tribles pile", () => {
  test("a command's --help says what it does, then its usage and options", async () => {
    for (const [args, says] of [
      [["pile", "net", "sync", "--help"], "Sync a pile with peers until interrupted"],
      [["pile", "blob", "put", "--help"], "Store"],
      [["help", "pile", "checkout"], "Write a branch's files"],
    ] as const) {
      const r = await tribles([...args]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(says);
      expect(r.out.indexOf(says)).toBeLessThan(r.out.indexOf("Usage:"));
      expect(r.out).toContain("--help");
    }
    // A group lists its commands; an option given to a group is an error, not a listing.
    const group = await tribles(["pile", "net"]);
    expect(group.code).toBe(0);
    expect(group.out).toContain('Commands under "tribles pile net"');
    expect(group.out).toContain("tribles pile net sync <pile>");
    expectOneLineError(await tribles(["pile", "--frobnicate"]), "unknown option --frobnicate");
    // A --no-X flag is off unless given; cac's "(default: true)" beside it said the opposite.
    const sync = await tribles(["pile", "net", "sync", "--help"]);
    expect(sync.out).toMatch(/--no-merge\s+Keep received branches/);
    expect(sync.out).not.toContain("(default: true)");
  }, 20_000);

  test("create makes an empty pile and refuses to overwrite", async () => {
    const r = await tribles(["pile", "create", "a.pile"]);
    expect(r.code).toBe(0);
    expect(statSync(tmp.path("a.pile")).size).toBe(0);
    writeFileSync(tmp.path("a.pile"), new Uint8Array(0));
    expectOneLineError(await tribles(["pile", "create", "a.pile"]), "a.pile");
  }, 30_000);

  test("blob put / get / list round-trip through files, stdin and stdout", async () => {
    await tribles(["pile", "create", "b.pile"]);
    const payload = new Uint8Array(100_000).map((_, i) => (i * 31) & 255);
    writeFileSync(tmp.path("in.bin"), payload);
    const put = await tribles(["pile", "blob", "put", "b.pile", "in.bin"]);
    expect(put.code).toBe(0);
    expect(put.out.trim()).toBe(hexOf(payload));

    const fromStdin = await tribles(["pile", "blob", "put", "b.pile", "-"], new TextEncoder().encode("hello"));
    expect(fromStdin.out.trim()).toBe(hexOf(new TextEncoder().encode("hello")));
    const json = await tribles(["pile", "blob", "put", "b.pile", "in.bin", "--json"]);
    expect(JSON.parse(json.out)).toMatchObject({ hash: hexOf(payload) });
    expect(statSync(tmp.path("b.pile")).size).toBe(64 + 100_032 + 128); // the repeat wrote nothing

    const get = await tribles(["pile", "blob", "get", "b.pile", hexOf(payload)]);
    expect(get.code).toBe(0);
    expect(get.stdout).toEqual(payload);
    const toFile = await tribles(["pile", "blob", "get", "b.pile", hexOf(payload).toUpperCase(), "-o", "out.bin"]);
    expect(toFile.code).toBe(0);
    expect(new Uint8Array(readFileSync(tmp.path("out.bin")))).toEqual(payload);

    const list = await tribles(["pile", "blob", "list", "b.pile"]);
    expect(list.out.trim().split("\n").sort()).toEqual([hexOf(payload), hexOf(new TextEncoder().encode("hello"))].sort());
    const listJson = await tribles(["pile", "blob", "list", "b.pile", "--json"]);
    expect((JSON.parse(listJson.out) as string[]).length).toBe(2);
  }, 30_000);

  test("branch create / list / delete", async () => {
    await tribles(["pile", "create", "c.pile"]);
    expect((await tribles(["pile", "branch", "create", "c.pile", "main"])).code).toBe(0);
    expect((await tribles(["pile", "branch", "create", "c.pile", "dev"])).code).toBe(0);
    const list = await tribles(["pile", "branch", "list", "c.pile", "--json"]);
    expect(list.code).toBe(0);
    const branches = JSON.parse(list.out) as { id: string; name: string }[];
    expect(branches.map((b) => b.name).sort()).toEqual(["dev", "main"]);
    for (const b of branches) expect(b.id).toMatch(/^[0-9a-f]{32}$/);
    expect((await tribles(["pile", "branch", "delete", "c.pile", "dev"])).code).toBe(0);
    const after = await tribles(["pile", "branch", "list", "c.pile"]);
    expect(after.out).toContain("main");
    expect(after.out).not.toContain("dev");
  }, 30_000);

  test("diagnose reports counts and exits non-zero on corruption, naming the offset", async () => {
    await tribles(["pile", "create", "d.pile"]);
    for (const s of ["one", "two", "three"]) await tribles(["pile", "blob", "put", "d.pile", "-"], new TextEncoder().encode(s));
    const ok = await tribles(["pile", "diagnose", "d.pile", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, blobRecords: 3, distinctBlobs: 3, fileBytes: 384, validBytes: 384 });

    const bytes = new Uint8Array(readFileSync(tmp.path("d.pile")));
    bytes[128 + 64]! ^= 1; // damage the second payload
    writeFileSync(tmp.path("d.pile"), bytes);
    const bad = await tribles(["pile", "diagnose", "d.pile"]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("offset 128");

    bytes[128 + 64]! ^= 1;
    bytes[128]! ^= 1; // now a bad magic in the middle
    writeFileSync(tmp.path("d.pile"), bytes);
    const corrupt = await tribles(["pile", "diagnose", "d.pile", "--json"]);
    expect(corrupt.code).toBe(1);
    expect(JSON.parse(corrupt.out).corruption).toMatchObject({ offset: 128, reason: "unknown record magic, and a valid blob record at offset 256 follows it", tornTail: false, nothingAfter: false });
    // Other commands refuse the corrupt pile with one line naming file and offset, writing nothing;
    // repair refuses too (records follow the damage).
    expectOneLineError(await tribles(["pile", "blob", "put", "d.pile", "-"], new TextEncoder().encode("x")), "offset 128");
    expectOneLineError(await tribles(["pile", "repair", "d.pile"]), "valid-looking records follow it");
    expect(new Uint8Array(readFileSync(tmp.path("d.pile")))).toEqual(bytes);
  }, 30_000);

  test("a file that is not a pile is refused untouched, and bytes appended to a pile are saved aside by repair", async () => {
    const text = new TextEncoder().encode("# my notes\n".repeat(500));
    writeFileSync(tmp.path("notes.md"), text);
    // Read-only commands, and a commit with the arguments swapped, leave the document as it was.
    for (const args of [["pile", "files", "notes.md"], ["pile", "branch", "list", "notes.md"], ["pile", "blob", "put", "notes.md", "-"]]) {
      expectOneLineError(await tribles(args, new Uint8Array(0)), "not a pile");
    }
    expect(new Uint8Array(readFileSync(tmp.path("notes.md")))).toEqual(text);
    expect(JSON.parse((await tribles(["pile", "diagnose", "notes.md", "--json"])).out).corruption).toMatchObject({ offset: 0, tornTail: false });

    await tribles(["pile", "create", "p.pile"]);
    const hash = (await tribles(["pile", "blob", "put", "p.pile", "-"], new TextEncoder().encode("kept"))).out.trim();
    appendFileSync(tmp.path("p.pile"), text);
    expectOneLineError(await tribles(["pile", "blob", "list", "p.pile"]), "offset 128");
    const advice = await tribles(["pile", "diagnose", "p.pile"]);
    expect(advice.out).toContain("tribles pile repair p.pile");
    const repaired = await tribles(["pile", "repair", "p.pile", "--json"]);
    expect(repaired.code).toBe(0);
    expect(JSON.parse(repaired.out).repaired).toMatchObject({ offset: 128, bytes: text.length });
    expect(new Uint8Array(readFileSync(tmp.path("p.pile.damaged-tail-128")))).toEqual(text);
    expect((await tribles(["pile", "blob", "list", "p.pile"])).out.trim()).toBe(hash);
    expect((await tribles(["pile", "repair", "p.pile"])).out).toContain("nothing to repair");
  }, 30_000);

  test("a torn tail (an interrupted write) is truncated on open, with a warning", async () => {
    await tribles(["pile", "create", "t.pile"]);
    await tribles(["pile", "blob", "put", "t.pile", "-"], new TextEncoder().encode("kept"));
    const whole = new Uint8Array(readFileSync(tmp.path("t.pile")));
    appendFileSync(tmp.path("t.pile"), whole.subarray(0, 40)); // half a header
    const r = await tribles(["pile", "blob", "list", "t.pile"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("removed an incomplete last record (40 bytes at offset 128: partial record header) left by an interrupted write; saved them to t.pile.damaged-tail-128");
    expect(statSync(tmp.path("t.pile")).size).toBe(128);
    expect(new Uint8Array(readFileSync(tmp.path("t.pile.damaged-tail-128")))).toEqual(whole.subarray(0, 40));
    // diagnose reports a torn tail without failing: it is what a crash leaves, and opening repairs it.
    appendFileSync(tmp.path("t.pile"), whole.subarray(0, 40));
    const d = await tribles(["pile", "diagnose", "t.pile"]);
    expect(d.code).toBe(0);
    expect(d.out).toContain("torn tail at offset 128");
    expect(statSync(tmp.path("t.pile")).size).toBe(168);
  }, 30_000);

  test("a crash-torn end plus a length field damaged earlier: diagnose says corruption, and no command cuts the records after it", async () => {
    await tribles(["pile", "create", "d.pile"]);
    for (let i = 0; i < 20; i++) await tribles(["pile", "blob", "put", "d.pile", "-"], new TextEncoder().encode(`blob number ${i}`.repeat(i + 1)));
    const bytes = new Uint8Array(readFileSync(tmp.path("d.pile")));
    new DataView(bytes.buffer).setBigUint64(24, BigInt(bytes.length * 4), true); // the first record's length
    const damaged = new Uint8Array(Buffer.concat([bytes, bytes.subarray(128, 128 + 80)])); // and a torn append
    writeFileSync(tmp.path("d.pile"), damaged);
    const d = await tribles(["pile", "diagnose", "d.pile", "--json"]);
    expect(d.code).toBe(1);
    const report = JSON.parse(d.out);
    expect(report).toMatchObject({ ok: false, corruption: { offset: 0, tornTail: false } });
    for (const args of [["pile", "blob", "list", "d.pile"], ["pile", "branch", "list", "d.pile"], ["pile", "blob", "put", "d.pile", "-"]]) {
      expectOneLineError(await tribles(args, new Uint8Array(0)), report.corruption.reason);
    }
    expectOneLineError(await tribles(["pile", "repair", "d.pile"]), "valid-looking records follow it");
    expect(new Uint8Array(readFileSync(tmp.path("d.pile")))).toEqual(damaged);
  }, 60_000);

  test("`pile blob put a.pile other.pile` killed mid-write (file size limit): the next command saves the torn blob aside and cuts it", async () => {
    // other.pile: branch records only (64 bytes each), so every 64-byte boundary of the torn
    // payload is a record boundary of the pile it holds, wherever the write stopped.
    await tribles(["pile", "create", "a.pile"]);
    const kept = (await tribles(["pile", "blob", "put", "a.pile", "-"], new TextEncoder().encode("kept"))).out.trim();
    const other = new Uint8Array(64 * 4000);
    for (let i = 0; i < 4000; i++) {
      other.set(Buffer.from("2bc991a7f5d5d2a3a468c53b0aa03504", "hex"), i * 64);
      other.fill((i % 250) + 1, i * 64 + 16, i * 64 + 64);
    }
    writeFileSync(tmp.path("other.pile"), other);
    // The kernel stops the write at the limit (in 512-byte blocks) and the writer dies of SIGXFSZ.
    const limitBlocks = 200;
    const proc = Bun.spawn(["sh", "-c", `ulimit -f ${limitBlocks} && exec "$0" "$@"`, process.execPath, MAIN, "pile", "blob", "put", "a.pile", "other.pile"], {
      cwd: tmp.dir,
      stdout: "pipe",
      stderr: "pipe",
      // Nothing but the pile may be written under the limit: no transpiler cache files.
      env: { ...process.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
    });
    expect(await proc.exited).not.toBe(0);
    const torn = new Uint8Array(readFileSync(tmp.path("a.pile")));
    expect(torn.length).toBe(limitBlocks * 512);
    const d = await tribles(["pile", "diagnose", "a.pile", "--json"]);
    expect(JSON.parse(d.out)).toMatchObject({ ok: true, corruption: { offset: 128, tornTail: true } });
    const r = await tribles(["pile", "blob", "list", "a.pile"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(kept);
    expect(r.err).toContain("saved them to a.pile.damaged-tail-128");
    expect(new Uint8Array(readFileSync(tmp.path("a.pile.damaged-tail-128")))).toEqual(torn.subarray(128));
    expect(statSync(tmp.path("a.pile")).size).toBe(128);
  }, 60_000);

  test("failures are one line, non-zero, and write nothing", async () => {
    expectOneLineError(await tribles(["pile", "blob", "list", "missing.pile"]), "missing.pile");
    expect(existsSync(tmp.path("missing.pile"))).toBe(false);
    await tribles(["pile", "create", "e.pile"]);
    expectOneLineError(await tribles(["pile", "blob", "get", "e.pile", "abc"]), "abc");
    expectOneLineError(await tribles(["pile", "blob", "get", "e.pile", "00".repeat(32), "-o", "never.bin"]), "not in");
    expect(existsSync(tmp.path("never.bin"))).toBe(false);
    expectOneLineError(await tribles(["pile", "blob", "put", "e.pile", "no-such-file"]), "no-such-file");
    expect(statSync(tmp.path("e.pile")).size).toBe(0);
  }, 30_000);
});
