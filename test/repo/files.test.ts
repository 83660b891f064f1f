/** Reading committed files back: `filesAt` (newest version per name) and `tribles pile files | checkout`. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { intrinsicEntity } from "../../src/core/entity.ts";
import { encodeLongString } from "../../src/core/longstring.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { Pile } from "../../src/pile/pile.ts";
import { FILE_CONTENT, FILE_NAME, FILE_SIZE, filesAt, filesToContent, isSafeFileName } from "../../src/repo/files.ts";
import { Repository } from "../../src/repo/repository.ts";
import { tempDir } from "../pile/helpers.ts";
import { runCli } from "./fixtures/cli.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Content and blobs for files given as name → text, names taken as they are (no basename). */
function rawFiles(files: Record<string, string>) {
  const entries = Object.entries(files).map(([name, body]) => ({ name, bytes: text(body) }));
  const { content, blobs } = filesToContent([]);
  for (const { name, bytes } of entries) {
    const nameBlob = encodeLongString(name);
    const size = new Uint8Array(32);
    new DataView(size.buffer).setBigUint64(24, BigInt(bytes.length));
    content.unionInPlace(
      intrinsicEntity([
        [FILE_NAME, hash(nameBlob)],
        [FILE_CONTENT, hash(bytes)],
        [FILE_SIZE, size],
      ]).set,
    );
    blobs.push(nameBlob, bytes);
  }
  return { content, blobs };
}

describe("filesAt", () => {
  test("each name's newest version by commit time, across merged branches, with a version count", () => {
    let now = 1_000n;
    const repo = new Repository(new MemoryStore(), SigningKey.generate(), { clock: () => now });
    const commit = (branch: string, t: bigint, files: Record<string, string>) => {
      now = t;
      const { content, blobs } = rawFiles(files);
      return repo.commit(branch, content, `at ${t}`, blobs);
    };
    commit("main", 10n, { "a.txt": "a on main", "b.txt": "b" });
    const later = commit("other", 20n, { "a.txt": "a on other" });
    now = 25n;
    repo.mergeInto(repo.requireBranch("main"), repo.requireBranch("other").meta.head!);
    const read = (name: string) => {
      const reader = repo.store.reader();
      const f = filesAt(reader, repo.requireBranch("main").meta.head!).files.find((x) => x.name === name)!;
      return { body: new TextDecoder().decode(reader.get(f.content)!), versions: f.versions, commit: toHex(f.commit) };
    };
    expect(read("a.txt")).toEqual({ body: "a on other", versions: 2, commit: toHex(later) });
    expect(read("b.txt").body).toBe("b");
    commit("main", 30n, { "a.txt": "a on main again" });
    expect(read("a.txt")).toMatchObject({ body: "a on main again", versions: 3 });
    expect(filesAt(repo.store.reader(), repo.requireBranch("main").meta.head!).files.map((f) => f.name)).toEqual(["a.txt", "b.txt"]);
  });

  test("names a peer could use to escape a directory are flagged, and unreadable content is counted", () => {
    const repo = new Repository(new MemoryStore(), SigningKey.generate());
    const { content, blobs } = rawFiles({ "../evil": "x", "ok.txt": "fine", "a\nb": "y" });
    const head = repo.commit("main", content, "hostile names", blobs);
    const reader = repo.store.reader();
    const found = filesAt(reader, head);
    expect(found.files.map((f) => [f.name, f.safe])).toEqual([
      ["../evil", false],
      ["a\nb", false],
      ["ok.txt", true],
    ]);
    // The same history read with only the commit blob (its content not fetched): the commit is
    // reported as unreadable instead of failing the listing.
    const onlyCommits = { get: (h: Uint8Array) => (toHex(h) === toHex(head) ? reader.get(h) : undefined) };
    const partial = filesAt(onlyCommits, head);
    expect(partial.files).toEqual([]);
    expect(partial.unreadableCommits.map(toHex)).toEqual([toHex(head)]);
    for (const bad of ["", ".", "..", "a/b", "a\\b", "nul\u0000", "x".repeat(256)]) expect(isSafeFileName(bad)).toBe(false);
    for (const good of ["notes.md", ".hidden", "päckchen.txt", "x".repeat(255)]) expect(isSafeFileName(good)).toBe(true);
  });
});

describe("tribles pile files / checkout", () => {
    let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir("tribles-files-cli-");
  });
  afterEach(() => tmp.cleanup());

  const tribles = (...args: string[]) => runCli(tmp.dir, ...args);

  test("list the newest versions, write them out, keep what differs unless --force", async () => {
    expect((await tribles("pile", "create", "r.pile")).code).toBe(0);
    writeFileSync(tmp.path("a.txt"), "alpha 1");
    writeFileSync(tmp.path("b.bin"), new Uint8Array([0, 1, 2, 255]));
    expect((await tribles("pile", "commit", "r.pile", "-m", "one", "--create-key", "a.txt", "b.bin")).code).toBe(0);
    writeFileSync(tmp.path("a.txt"), "alpha 2");
    expect((await tribles("pile", "commit", "r.pile", "-m", "two", "a.txt")).code).toBe(0);

    const listed = await tribles("pile", "files", "r.pile", "--json");
    expect(listed.code).toBe(0);
    const files = JSON.parse(listed.out).files as { name: string; size: number; content: string; versions: number }[];
    expect(files.map((f) => [f.name, f.size, f.versions])).toEqual([
      ["a.txt", 7, 2],
      ["b.bin", 4, 1],
    ]);
    expect(files[0]!.content).toBe(toHex(hash(text("alpha 2"))));
    expect((await tribles("pile", "files", "r.pile")).out).toContain("(2 versions)");

    const first = await tribles("pile", "checkout", "r.pile", "--out", "out");
    expect(first.code).toBe(0);
    expect(readFileSync(tmp.path("out/a.txt"), "utf8")).toBe("alpha 2");
    expect([...readFileSync(tmp.path("out/b.bin"))]).toEqual([0, 1, 2, 255]);
    expect((await tribles("pile", "checkout", "r.pile", "--out", "out")).out).toContain("unchanged");

    // A local edit is not overwritten (exit 1, the file kept), and is with --force.
    writeFileSync(tmp.path("out/a.txt"), "my edit");
    const refused = await tribles("pile", "checkout", "r.pile", "--out", "out", "a.txt");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("--force");
    expect(readFileSync(tmp.path("out/a.txt"), "utf8")).toBe("my edit");
    expect((await tribles("pile", "checkout", "r.pile", "--out", "out", "a.txt", "--force")).code).toBe(0);
    expect(readFileSync(tmp.path("out/a.txt"), "utf8")).toBe("alpha 2");
    expect(readdirSync(tmp.path("out")).sort()).toEqual(["a.txt", "b.bin"]);

    const unknown = await tribles("pile", "checkout", "r.pile", "--out", "out", "nope.txt");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("nope.txt: no file of that name");
    expect((await tribles("pile", "checkout", "r.pile", "--out", "a.txt")).err).toContain("not a directory");
    expect((await tribles("pile", "files", "r.pile", "--branch", "nope")).err).toContain('unknown branch "nope"');
  }, 60_000);

  test("a recorded name with a path in it is never written, and the others still are", async () => {
    const pile = Pile.open(tmp.path("r.pile"), { create: true });
    try {
      const { content, blobs } = rawFiles({ "../escaped.txt": "outside", "sub/inner.txt": "nested", "fine.txt": "ok" });
      new Repository(pile, SigningKey.generate()).commit("main", content, "from a hostile peer", blobs);
      pile.flush();
    } finally {
      pile.close();
    }
    const r = await tribles("pile", "checkout", "r.pile", "--out", "out");
    expect(r.code).toBe(1);
    expect(r.err).toContain("../escaped.txt: not a plain file name");
    expect(r.err).toContain("sub/inner.txt: not a plain file name");
    expect(readdirSync(tmp.path("out"))).toEqual(["fine.txt"]);
    expect(existsSync(tmp.path("escaped.txt"))).toBe(false);
    expect(readdirSync(tmp.dir).sort()).toEqual(["out", "r.pile"]);
  }, 30_000);
});
