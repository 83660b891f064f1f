/**
 * File trees (repo/file-tree.ts, file-commit.ts, paths.ts) and the file commands on one pile:
 * paths with directories, deletes, renames, empty commits refused, three-way merges with conflict
 * copies, and checkouts into a folder that remembers what it wrote.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { intrinsicEntity } from "../../src/core/entity.ts";
import { encodeLongString } from "../../src/core/longstring.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { Pile } from "../../src/pile/pile.ts";
import { commitFileChanges } from "../../src/repo/file-commit.ts";
import { storedProblem } from "../../src/repo/file-content.ts";
import { conflictName, isConflictCopy, treeAt } from "../../src/repo/file-tree.ts";
import { CHUNK_BYTES, FILE_CONTENT, FILE_NAME, FILE_SIZE, filesToContent } from "../../src/repo/files.ts";
import { pathCollisions, pathProblem } from "../../src/repo/paths.ts";
import { Repository } from "../../src/repo/repository.ts";
import { tempDir } from "../pile/helpers.ts";
import { runCli } from "./fixtures/cli.ts";

const text = (s: string) => new TextEncoder().encode(s);
const put = (path: string, body: string) => ({ kind: "put" as const, path, bytes: text(body) });

/** First-schema content (as the reference fixtures hold it) with names taken as they are. */
function rawFiles(files: Record<string, string>) {
  const { content, blobs } = filesToContent([]);
  for (const [name, body] of Object.entries(files)) {
    const nameBlob = encodeLongString(name);
    const bytes = text(body);
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

function repoWithClock(key = SigningKey.generate(), store = new MemoryStore()) {
  const clock = { now: 1_000_000_000_000_000_000n };
  const repo = new Repository(store, key, { clock: () => clock.now });
  return { repo, clock };
}

/** The branch's files as path → text. */
function filesOf(repo: Repository, branch = "main"): Record<string, string> {
  const reader = repo.store.reader();
  const head = repo.requireBranch(branch).meta.head!;
  return Object.fromEntries(treeAt(reader, head).files.map((f) => [f.path, new TextDecoder().decode(reader.get(f.content)!)]));
}

describe("file trees", () => {
  test("nested paths, deletes and renames are recorded; the tree is the head's, not every name ever committed", () => {
    const { repo } = repoWithClock();
    commitFileChanges(repo, "main", [put("docs/sub/b.md", "b"), put("docs/a.md", "a"), put("top.txt", "t")], "one");
    expect(filesOf(repo)).toEqual({ "docs/a.md": "a", "docs/sub/b.md": "b", "top.txt": "t" });
    const removed = commitFileChanges(repo, "main", [{ kind: "remove", path: "docs/sub" }], "rm a directory");
    expect(removed.removed).toEqual(["docs/sub/b.md"]);
    commitFileChanges(repo, "main", [{ kind: "move", from: "top.txt", to: "docs/top.txt" }], "mv");
    expect(filesOf(repo)).toEqual({ "docs/a.md": "a", "docs/top.txt": "t" });
    commitFileChanges(repo, "main", [{ kind: "remove", path: "docs/a.md" }, { kind: "remove", path: "docs/top.txt" }], "everything");
    expect(filesOf(repo)).toEqual({});
  });

  test("a commit that changes nothing is refused, as are paths that cannot be written back out", () => {
    const { repo } = repoWithClock();
    commitFileChanges(repo, "main", [put("a.txt", "a")], "one");
    const head = repo.requireBranch("main").meta.head!;
    expect(() => commitFileChanges(repo, "main", [put("a.txt", "a")], "again")).toThrow("nothing to commit");
    expect(() => commitFileChanges(repo, "main", [{ kind: "remove", path: "nope" }], "rm")).toThrow("no such file");
    expect(() => commitFileChanges(repo, "main", [put("../x", "x")], "escape")).toThrow('".." segment');
    expect(() => commitFileChanges(repo, "main", [put("A.TXT", "x")], "case")).toThrow("case-insensitive");
    expect(toHex(repo.requireBranch("main").meta.head!)).toBe(toHex(head));
  });

  test("first-schema commits (base names, additive, as the reference fixtures hold them) still read as files", () => {
    const { repo, clock } = repoWithClock();
    const first = rawFiles({ "hello.txt": "hi", "b.txt": "b" });
    repo.commit("main", first.content, "old style", first.blobs);
    clock.now += 1n;
    const second = rawFiles({ "hello.txt": "hi again" });
    repo.commit("main", second.content, "old style adds", second.blobs);
    expect(filesOf(repo)).toEqual({ "b.txt": "b", "hello.txt": "hi again" });
    clock.now += 1n;
    commitFileChanges(repo, "main", [{ kind: "remove", path: "b.txt" }], "new style removes");
    expect(filesOf(repo)).toEqual({ "hello.txt": "hi again" });
  });

  test("a merge keeps both edits of one path: the later at the path, the other as a Syncthing-style conflict copy, on either merge order", () => {
    const alice = SigningKey.generate();
    const { repo, clock } = repoWithClock(alice);
    commitFileChanges(repo, "main", [put("notes.md", "base"), put("same.txt", "s"), put("gone.txt", "g"), put("kept.txt", "k")], "base");
    repo.createBranch("other", repo.requireBranch("main").meta.head!);
    clock.now += 1_000_000_000n;
    commitFileChanges(repo, "main", [put("notes.md", "main's edit"), put("same.txt", "both"), { kind: "remove", path: "gone.txt" }, put("kept.txt", "edited on main")], "main");
    clock.now += 1_000_000_000n;
    commitFileChanges(repo, "other", [put("notes.md", "other's edit"), put("same.txt", "both"), { kind: "remove", path: "kept.txt" }, put("new.txt", "n")], "other");
    repo.createBranch("m1", repo.requireBranch("main").meta.head!);
    repo.createBranch("m2", repo.requireBranch("other").meta.head!);
    repo.merge("m1", "other");
    repo.merge("m2", "main");
    // Two merges of the same heads are the same commit, with the same tree.
    expect(toHex(repo.requireBranch("m1").meta.head!)).toBe(toHex(repo.requireBranch("m2").meta.head!));
    const files = filesOf(repo, "m1");
    const copies = Object.keys(files).filter(isConflictCopy);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(new RegExp(`^notes\\.sync-conflict-\\d{8}-\\d{6}-${toHex(alice.publicKey).slice(0, 7).toUpperCase()}\\.md$`));
    expect(files).toEqual({ "notes.md": "other's edit", [copies[0]!]: "main's edit", "same.txt": "both", "kept.txt": "edited on main", "new.txt": "n" });
    const tree = treeAt(repo.store.reader(), repo.requireBranch("m1").meta.head!);
    expect(tree.conflicts.map((c) => [c.path, c.copy.path])).toEqual([["notes.md", copies[0]!]]);
  });

  test("a large file is stored as chunks; a version changing one chunk adds one; a missing chunk is found before writing", () => {
    const { repo, clock } = repoWithClock();
    const big = new Uint8Array(CHUNK_BYTES * 2 + 100);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    commitFileChanges(repo, "main", [{ kind: "put", path: "big.bin", bytes: big }], "big");
    const blobsBefore = repo.store.reader().len;
    const entry = treeAt(repo.store.reader(), repo.requireBranch("main").meta.head!).files[0]!;
    expect(entry.chunks).toBeDefined();
    expect(toHex(entry.content)).toBe(toHex(hash(big)));
    expect(repo.store.reader().has(entry.content)).toBe(false);
    const reader = repo.store.reader();
    expect(storedProblem(reader, entry)).toBeNull();
    const second = reader.get(entry.chunks!)!.subarray(32, 64);
    const hiding = { get: (h: Uint8Array) => (toHex(h) === toHex(second) ? undefined : reader.get(h)) };
    expect(storedProblem(hiding, entry)).toContain("chunk 2 of 3");
    clock.now += 1n;
    const edited = big.slice();
    edited[big.length - 1] = 0;
    commitFileChanges(repo, "main", [{ kind: "put", path: "big.bin", bytes: edited }], "edit the last chunk");
    // New: the last chunk, the chunk list, the path is the same; commit, content, metadata and message blobs.
    const added = repo.store.reader().len - blobsBefore;
    expect(added).toBeLessThanOrEqual(2 + 4);
  });

  test("paths from peers: escapes, absolute paths, device names and control characters are refused; case collisions are found", () => {
    for (const bad of ["", "/etc/passwd", "C:/x", "../x", "a/../../x", "a//b", "a/", "./a", "a\\b", "CON", "docs/nul.txt", "com1", "a\nb", "x:y", "trailing.", "x".repeat(256)]) expect(pathProblem(bad)).not.toBeNull();
    for (const good of ["notes.md", ".hidden", "docs/sub/päckchen.txt", "x".repeat(255), "console.txt"]) expect(pathProblem(good)).toBeNull();
    expect(pathCollisions(["Notes.md", "notes.md", "a", "a/b", "fine"])).toEqual([["Notes.md", "notes.md"], ["a", "a/b"]]);
    // A conflict copy of a long name is still a name that can be written.
    const long = `dir/${"n".repeat(250)}.txt`;
    const copy = conflictName(long, 1_000_000_000_000_000_000n, new Uint8Array(32).fill(0xab));
    expect(copy).toMatch(/^dir\/n+\.sync-conflict-\d{8}-\d{6}-ABABABA\.txt$/);
    expect(pathProblem(copy)).toBeNull();
  });
});

describe("tribles pile commit / rm / mv / files / checkout / status", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir("tribles-files-cli-");
  });
  afterEach(() => tmp.cleanup());

  const tribles = (...args: string[]) => runCli(tmp.dir, ...args);
  const ok = async (...args: string[]) => {
    const r = await tribles(...args);
    if (r.code !== 0) throw new Error(`tribles ${args.join(" ")} exited ${r.code}: ${r.err}`);
    return r;
  };
  const listed = async () => JSON.parse((await ok("pile", "files", "r.pile", "--json")).out).files.map((f: { path: string }) => f.path);

  test("commit DIR walks it (nested paths, .triblesignore), rm and mv are commits, files lists the current tree, empty commits are refused", async () => {
    await ok("pile", "create", "r.pile");
    mkdirSync(tmp.path("docs/sub"), { recursive: true });
    writeFileSync(tmp.path("docs/a.md"), "a");
    writeFileSync(tmp.path("docs/sub/b.md"), "b");
    writeFileSync(tmp.path("docs/build.log"), "noise");
    mkdirSync(tmp.path("docs/cache"));
    writeFileSync(tmp.path("docs/cache/x"), "noise");
    writeFileSync(tmp.path("docs/.triblesignore"), "# not synced\n*.log\ncache/\n");
    await ok("pile", "commit", "r.pile", "docs", "-m", "docs", "--create-key");
    expect(await listed()).toEqual(["docs/.triblesignore", "docs/a.md", "docs/sub/b.md"]);

    const again = await tribles("pile", "commit", "r.pile", "docs", "-m", "again");
    expect(again.code).toBe(1);
    expect(again.err).toContain("nothing to commit");
    await ok("pile", "mv", "r.pile", "docs/sub", "docs/moved");
    await ok("pile", "rm", "r.pile", "docs/a.md");
    expect(await listed()).toEqual(["docs/.triblesignore", "docs/moved/b.md"]);
    expect((await tribles("pile", "rm", "r.pile", "docs/a.md")).err).toContain("no such file");

    await ok("pile", "checkout", "r.pile", "--out", "out");
    expect(readFileSync(tmp.path("out/docs/moved/b.md"), "utf8")).toBe("b");
    expect(existsSync(tmp.path("out/docs/a.md"))).toBe(false);
    writeFileSync(tmp.path("outside.txt"), "x");
    expect((await runCli(tmp.path("docs"), "pile", "commit", "../r.pile", "../outside.txt", "-m", "x")).err).toContain("outside the current directory");
  }, 60_000);

  test("a folder that knows its checkout: clean files follow the branch, local edits are kept and reported, commit --from commits them", async () => {
    await ok("pile", "create", "r.pile");
    mkdirSync(tmp.path("src/deep"), { recursive: true });
    writeFileSync(tmp.path("src/a.txt"), "a1");
    writeFileSync(tmp.path("src/b.txt"), "b1");
    writeFileSync(tmp.path("src/deep/c.txt"), "c1");
    await ok("pile", "commit", "r.pile", "src", "-m", "one", "--create-key");
    await ok("pile", "checkout", "r.pile", "--out", "w");
    expect(readdirSync(tmp.path("w")).sort()).toEqual([".tribles-checkout.json", "src"]);

    // Someone commits new versions of a and b and removes c; here, b is edited meanwhile.
    writeFileSync(tmp.path("src/a.txt"), "a2");
    writeFileSync(tmp.path("src/b.txt"), "b2 upstream");
    await ok("pile", "commit", "r.pile", "src/a.txt", "src/b.txt", "-m", "two");
    await ok("pile", "rm", "r.pile", "src/deep/c.txt");
    writeFileSync(tmp.path("w/src/b.txt"), "b edited here");
    const status = JSON.parse((await ok("pile", "status", "w", "--json")).out);
    expect(status.behind).toBe(true);
    expect(status.conflicts).toEqual(["src/b.txt"]);
    expect(status.paths).toContainEqual({ path: "src/a.txt", local: null, branch: "modified" });

    const update = await ok("pile", "checkout", "r.pile", "--out", "w");
    expect(readFileSync(tmp.path("w/src/a.txt"), "utf8")).toBe("a2");
    expect(existsSync(tmp.path("w/src/deep"))).toBe(false);
    expect(readFileSync(tmp.path("w/src/b.txt"), "utf8")).toBe("b edited here");
    expect(update.out).toContain("KEPT");
    expect(update.out).toContain("src/b.txt: edited here");

    // Committing the folder keeps both edits of b: the branch's at the path, this one as a conflict copy.
    const committed = await ok("pile", "commit", "r.pile", "--from", "w", "-m", "from the folder");
    expect(committed.out).toContain("CONFLICT src/b.txt");
    const paths = await listed();
    const copy = paths.find(isConflictCopy)!;
    expect(copy).toMatch(/^src\/b\.sync-conflict-\d{8}-\d{6}-[0-9A-F]{7}\.txt$/);
    expect(readFileSync(tmp.path(`w/${copy}`), "utf8")).toBe("b edited here");
    expect(readFileSync(tmp.path("w/src/b.txt"), "utf8")).toBe("b2 upstream");
    expect((await ok("pile", "files", "r.pile")).out).toContain("CONFLICT COPY");
    expect((await ok("pile", "status", "w")).out).toContain(`conflict copy ${copy}`);

    // A plain local edit (the branch did not change the file) is committed as is; then nothing is left.
    writeFileSync(tmp.path("w/src/a.txt"), "a3 here");
    await ok("pile", "commit", "r.pile", "--from", "w", "-m", "a3");
    expect(readFileSync(tmp.path("src/a.txt"), "utf8")).toBe("a2");
    await ok("pile", "checkout", "r.pile", "src/a.txt", "--out", "fresh");
    expect(readFileSync(tmp.path("fresh/src/a.txt"), "utf8")).toBe("a3 here");
    expect((await tribles("pile", "commit", "r.pile", "--from", "w", "-m", "nothing")).err).toContain("nothing to commit");
  }, 60_000);

  test("a failing checkout writes nothing: a hostile path, a case collision or a symlink in the way fails it before any write", async () => {
    const pile = Pile.open(tmp.path("r.pile"), { create: true });
    try {
      const { content, blobs } = rawFiles({ "../escaped.txt": "outside", "fine.txt": "ok" });
      new Repository(pile, SigningKey.generate()).commit("main", content, "from a hostile peer", blobs);
      const { content: c2, blobs: b2 } = rawFiles({ "Case.txt": "1", "case.txt": "2" });
      new Repository(pile, SigningKey.generate()).commit("collide", c2, "collision", b2);
      pile.flush();
    } finally {
      pile.close();
    }
    const r = await tribles("pile", "checkout", "r.pile", "--out", "out");
    expect(r.code).toBe(1);
    expect(r.err).toContain('"../escaped.txt": not written: a ".." segment');
    expect(existsSync(tmp.path("out"))).toBe(false);
    expect(existsSync(tmp.path("escaped.txt"))).toBe(false);
    expect((await ok("pile", "files", "r.pile")).out).toContain("UNSAFE PATH");

    const c = await tribles("pile", "checkout", "r.pile", "--branch", "collide", "--out", "out2");
    expect(c.code).toBe(1);
    expect(c.err).toContain("case-insensitive");
    expect(existsSync(tmp.path("out2"))).toBe(false);

    mkdirSync(tmp.path("elsewhere"));
    mkdirSync(tmp.path("out3"));
    writeFileSync(tmp.path("out3/a.txt"), "x");
    await ok("pile", "commit", "r.pile", "out3/a.txt", "--branch", "nested", "-m", "n", "--create-key");
    mkdirSync(tmp.path("target"));
    symlinkSync(tmp.path("elsewhere"), tmp.path("target/out3"));
    const s = await tribles("pile", "checkout", "r.pile", "--branch", "nested", "--out", "target");
    expect(s.code).toBe(1);
    expect(s.err).toContain("symbolic link is in the way");
    expect(readdirSync(tmp.path("elsewhere"))).toEqual([]);
    expect(readdirSync(tmp.path("target"))).toEqual(["out3"]);
  }, 60_000);
});
