/**
 * Reference parity corners (issue 18), on piles the Rust reference wrote (fixtures/reference, see
 * its MANIFEST.md) and piles built from them: a branch whose metadata blob is missing or
 * unreadable is shown and deletable; a head whose metadata is unsigned is read (and said to be
 * unsigned) but never admitted from the network; diagnose names what the reference's restore
 * would throw away.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeSimpleArchive } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { fromHex } from "../../src/core/bytes.ts";
import { intrinsicEntity, type Pair } from "../../src/core/entity.ts";
import { encodeLongString } from "../../src/core/longstring.ts";
import { METADATA_NAME, METADATA_UPDATED_AT } from "../../src/core/metadata.ts";
import { genIdValue, pointInterval } from "../../src/core/schemas.ts";
import { Pile } from "../../src/pile/pile.ts";
import { REPO_BRANCH, REPO_HEAD } from "../../src/repo/attributes.ts";
import { parseBranchMeta } from "../../src/repo/branch-meta.ts";
import { applyRemoteHead } from "../../src/repo/tracking.ts";
import { tempDir } from "../pile/helpers.ts";
import { runCli } from "./fixtures/cli.ts";
import { copyReference, REFERENCE } from "./fixtures/reference.ts";

/** From MANIFEST.md: the reference's branches and commits in ref-main.pile. */
const MAIN_ID = "d6735601d3008ddbe1452ff7af7082c0";
const EMPTY_ID = "cbfb3898cb6e81fd881d39b9c0766ac0";
const FIRST_COMMIT = "4ff4f0bec05aa3bc34be5ccbd74aae5b286fafcf14a640b9a407f878aa6ef8b6";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("tribles-parity-");
});
afterEach(() => tmp.cleanup());

const tribles = (...args: string[]) => runCli(tmp.dir, ...args);

/** A copy of ref-main.pile in the temp dir, with `extend` applied through a Pile. */
function referencePile(name: string, extend: (pile: Pile) => void = () => undefined): string {
  const path = tmp.path(name);
  copyReference("ref-main.pile", path);
  const pile = Pile.open(path);
  try {
    extend(pile);
  } finally {
    pile.close();
  }
  return name;
}

interface ListedBranch {
  id: string;
  name: string | null;
  metadata: "ok" | "missing" | "unreadable";
  reason?: string;
  headUnsigned?: true;
}

describe("a branch whose metadata blob is missing or unreadable", () => {
  const MISSING = "11111111111111111111111111111111";
  const UNREADABLE = "22222222222222222222222222222222";
  const build = () =>
    referencePile("partial.pile", (pile) => {
      // A partial copy: the branch record arrived, its metadata blob did not.
      pile.update(fromHex(MISSING), null, hash(new TextEncoder().encode("metadata never copied")));
      // A blob that is no branch metadata at all.
      pile.update(fromHex(UNREADABLE), null, pile.put(new TextEncoder().encode("not branch metadata")));
    });

  test("is listed, marked, by branch list (text and --json) next to the reference's branches", async () => {
    const pile = build();
    const json = await tribles("pile", "branch", "list", pile, "--json");
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.out) as ListedBranch[];
    expect(listed.map((b) => [b.id, b.name, b.metadata]).sort()).toEqual(
      [
        [MAIN_ID, "main", "ok"],
        [EMPTY_ID, "empty", "ok"],
        [MISSING, null, "missing"],
        [UNREADABLE, null, "unreadable"],
      ].sort(),
    );
    expect(listed.find((b) => b.id === UNREADABLE)!.reason).toContain("not a SimpleArchive");
    const text = await tribles("pile", "branch", "list", pile);
    expect(text.out).toContain(`${MISSING}  (metadata missing)`);
    expect(text.out).toContain(`${UNREADABLE}  (metadata unreadable: `);
  }, 30_000);

  test("is shown by branch show, named in log's error and in diagnose, and removed by branch delete <id>", async () => {
    const pile = build();
    const show = await tribles("pile", "branch", "show", pile, MISSING);
    expect(show.code).not.toBe(0);
    expect(show.out).toContain("metadata missing");
    expect(show.err).toContain(`branch delete ${pile} ${MISSING}`);
    const showJson = await tribles("pile", "branch", "show", pile, UNREADABLE, "--json");
    expect(JSON.parse(showJson.out)).toMatchObject({ id: UNREADABLE, problem: "unreadable" });
    // log says what is wrong with the branch, not "unknown branch".
    const log = await tribles("pile", "log", pile, "--branch", MISSING);
    expect(log.code).not.toBe(0);
    expect(log.err).toContain("is not in this pile");
    expect(log.err).not.toContain("unknown branch");

    const diagnose = await tribles("pile", "diagnose", pile, "--json");
    const report = JSON.parse(diagnose.out) as { branches: { id: string; metadata: string; name?: string; problem?: string }[] };
    expect(report.branches.map((b) => [b.id, b.metadata, b.name ?? null]).sort()).toEqual(
      [
        [MAIN_ID, "ok", "main"],
        [EMPTY_ID, "ok", "empty"],
        [MISSING, "missing", null],
        [UNREADABLE, "unreadable", null],
      ].sort(),
    );
    const diagnoseText = await tribles("pile", "diagnose", pile);
    expect(diagnoseText.out).toContain(`branch ${MISSING}: metadata missing`);
    expect(diagnoseText.out).toContain(`branch ${UNREADABLE}: metadata unreadable: `);

    for (const id of [MISSING, UNREADABLE]) expect((await tribles("pile", "branch", "delete", pile, id)).code).toBe(0);
    const after = JSON.parse((await tribles("pile", "branch", "list", pile, "--json")).out) as ListedBranch[];
    expect(after.map((b) => b.id).sort()).toEqual([MAIN_ID, EMPTY_ID].sort());
  }, 30_000);
});

describe("a branch whose head metadata is unsigned (the reference's branch_unsigned with a head)", () => {
  const ID = "33333333333333333333333333333333";
  /** The unsigned form: the same pairs as signed metadata, minus signed_by and the signature. */
  const unsignedMeta = (pile: Pile) => {
    const name = encodeLongString("unsigned-head");
    const pairs: Pair[] = [
      [REPO_BRANCH, genIdValue(fromHex(ID))],
      [METADATA_NAME, hash(name)],
      [METADATA_UPDATED_AT, pointInterval(1_000_000_000_000_000_000n)],
      [REPO_HEAD, fromHex(FIRST_COMMIT)],
    ];
    const meta = encodeSimpleArchive(intrinsicEntity(pairs).set);
    pile.putMany([name, meta]);
    return hash(meta);
  };

  test("branch show says plainly that the head is unsigned, and pile files and log read it", async () => {
    const pile = referencePile("unsigned.pile", (p) => {
      p.update(fromHex(ID), null, unsignedMeta(p));
    });
    const show = await tribles("pile", "branch", "show", pile, "unsigned-head");
    expect(show.code).toBe(0);
    expect(show.out).toContain("head UNSIGNED");
    expect(show.out).not.toContain("BAD SIGNATURE");
    expect(JSON.parse((await tribles("pile", "branch", "show", pile, "unsigned-head", "--json")).out)).toMatchObject({ signature: "unsigned", headUnsigned: true, head: FIRST_COMMIT });
    const listed = JSON.parse((await tribles("pile", "branch", "list", pile, "--json")).out) as ListedBranch[];
    expect(listed.find((b) => b.id === ID)).toMatchObject({ name: "unsigned-head", headUnsigned: true });

    const files = await tribles("pile", "files", pile, "--branch", "unsigned-head", "--json");
    expect(files.code).toBe(0);
    expect((JSON.parse(files.out) as { files: { name: string; size: number }[] }).files.map((f) => [f.name, f.size])).toEqual([["hello.txt", 25]]);
    expect(files.err).toContain("its head is unsigned");
    const log = await tribles("pile", "log", pile, "--branch", "unsigned-head", "--json");
    expect(log.code).toBe(0);
    expect((JSON.parse(log.out) as { hash: string }[]).map((c) => c.hash)).toEqual([FIRST_COMMIT]);
  }, 30_000);

  test("is still refused when it arrives from the network", () => {
    const path = tmp.path(referencePile("net.pile"));
    const pile = Pile.open(path);
    try {
      const meta = unsignedMeta(pile);
      const result = applyRemoteHead(pile, new Uint8Array(32).fill(9), meta, parseBranchMeta(pile.reader().get(meta)!).branchId);
      expect(result).toMatchObject({ status: "rejected", reason: expect.stringContaining("not signed") });
    } finally {
      pile.close();
    }
  }, 30_000);
});

describe("corruption in the middle of a reference pile", () => {
  test("diagnose names what the reference's restore would throw away; tribles leaves the file untouched", async () => {
    const path = tmp.path("mid.pile");
    const bytes = new Uint8Array(readFileSync(join(REFERENCE, "ref-main.pile")));
    bytes[640]! ^= 1; // the magic of the 4096-byte blob record (MANIFEST: the 6th record)
    writeFileSync(path, bytes);
    const r = await tribles("pile", "diagnose", "mid.pile", "--json");
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out);
    expect(report.corruption).toMatchObject({ offset: 640, tornTail: false });
    // 53 records (MANIFEST): 5 before the damage, the damaged one, and 47 after it, among them
    // all 8 branch records and the tombstone; both live branches would be lost.
    expect(report.referenceRestore).toEqual({
      truncatesTo: 640,
      discardsBytes: bytes.length - 640,
      discardsRecords: { blobs: 38, branches: 8, tombstones: 1 },
      branchesLost: expect.arrayContaining([MAIN_ID, EMPTY_ID]),
    });
    expect(report.referenceRestore.branchesLost.length).toBe(2);
    const text = await tribles("pile", "diagnose", "mid.pile");
    expect(text.out).toContain("Pile::restore) would truncate this file to 640 bytes");
    expectUntouched(path, bytes);
    expect((await tribles("pile", "blob", "list", "mid.pile")).code).not.toBe(0);
    expectUntouched(path, bytes);
  }, 30_000);

  test("a torn tail is cut where the reference's restore cuts it, and saved beside the pile", async () => {
    copyReference("ref-main-torn-tail.pile", tmp.path("torn.pile"));
    const torn = new Uint8Array(readFileSync(tmp.path("torn.pile")));
    const r = await tribles("pile", "branch", "list", "torn.pile");
    expect(r.code).toBe(0);
    expect(r.err).toContain("100 bytes at offset 85696");
    expect(statSync(tmp.path("torn.pile")).size).toBe(85696);
    expect(new Uint8Array(readFileSync(tmp.path("torn.pile.damaged-tail-85696")))).toEqual(torn.subarray(85696));
  }, 30_000);
});

function expectUntouched(path: string, bytes: Uint8Array): void {
  expect(Buffer.compare(readFileSync(path), bytes)).toBe(0);
}
