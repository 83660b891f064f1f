/** Branches, workspaces, pushes with compare-and-swap, merges and history, on a MemoryStore. */
import { describe, expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { shortStringFromValue, shortStringValue } from "../../src/core/schemas.ts";
import type { BranchId, CasResult, Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { buildBranchMeta, parseBranchMeta } from "../../src/repo/branch-meta.ts";
import { parseCommit } from "../../src/repo/commit.ts";
import { RepoError } from "../../src/repo/errors.ts";
import { ancestry } from "../../src/repo/history.ts";
import { filesInContent, filesToContent } from "../../src/repo/files.ts";
import { applyRemoteHead } from "../../src/repo/tracking.ts";
import { createNamedBranch, Repository } from "../../src/repo/repository.ts";

const T = 3_990_000_000_000_000_000n;
const key7 = SigningKey.fromSeed(new Uint8Array(32).fill(7));
const attr = new Uint8Array(16).fill(0x42);
const fact = (text: string) => new TribleSet().add(genId(), attr, shortStringValue(text));
const texts = (set: TribleSet) => [...set].map((t) => shortStringFromValue(t.subarray(32))).sort();

describe("branches", () => {
  test("create, list, look up, rename, delete; names are unique", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    const main = createNamedBranch(store, "main");
    expect(main.meta.head).toBeUndefined();
    expect(repo.requireBranch("main").id).toEqual(main.id);
    expect(() => repo.createBranch("main")).toThrow('branch "main" already exists');
    expect(() => repo.requireBranch("nope")).toThrow('unknown branch "nope"');
    repo.commit("main", fact("one"), "one");
    const before = repo.requireBranch("main");
    const renamed = repo.renameBranch("main", "trunk");
    expect(renamed.id).toEqual(before.id);
    expect(renamed.meta.head).toEqual(before.meta.head!);
    expect(renamed.meta.signedBy).toEqual(key7.publicKey);
    expect(repo.lookupBranch("main")).toBeNull();
    expect(repo.verifyBranch(renamed).signer).toEqual(key7.publicKey);
    repo.createBranch("other");
    expect(() => repo.renameBranch("trunk", "other")).toThrow("already exists");
    repo.deleteBranch("other");
    expect(repo.listBranches().map((b) => b.name)).toEqual(["trunk"]);
  }, 5_000);

  test("a name shared by two branches is ambiguous, as in the reference", () => {
    const store = new MemoryStore();
    createNamedBranch(store, "dup");
    // A racing writer that did not see the first branch creates the same name under another id.
    const second = buildBranchMeta({ branchId: genId(), name: "dup" });
    store.putMany(second.blobs);
    store.update(parseBranchMeta(second.bytes).branchId, null, second.handle);
    expect(() => new Repository(store).lookupBranch("dup")).toThrow("ambiguous");
  }, 5_000);
});

describe("workspaces and pushes", () => {
  test("stage, commit, check out before and after the push", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    repo.createBranch("main");
    const ws = repo.pull("main");
    const blob = new TextEncoder().encode("a staged blob");
    const blobHandle = ws.put(blob);
    const c1 = ws.commit(fact("one"), "one");
    const c2 = ws.commit(fact("two"), "two");
    expect(store.reader().has(blobHandle)).toBe(false);
    expect(texts(ws.checkout())).toEqual(["one", "two"]);
    expect(texts(ws.checkout(c1))).toEqual(["two"]);
    repo.push(ws);
    expect(store.reader().get(blobHandle)).toEqual(blob);
    expect(repo.requireBranch("main").meta.head).toEqual(c2);
    expect(parseCommit(store.reader().get(c2)!).parents).toEqual([c1]);
    expect(ws.changed).toBe(false);
    // Pushing again changes nothing.
    const meta = store.head(ws.branchId);
    repo.push(ws);
    expect(store.head(ws.branchId)).toEqual(meta!);
  }, 5_000);

  test("a conflicting push merges with the other head and retries; both commits survive", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    repo.commit("main", fact("base"), "base");
    const a = repo.pull("main");
    const b = repo.pull("main");
    const ca = a.commit(fact("a"), "a");
    const cb = b.commit(fact("b"), "b");
    expect(repo.tryPush(a)).toBeNull();
    const theirs = repo.tryPush(b);
    expect(theirs).not.toBeNull();
    expect(theirs!.head).toEqual(ca);
    repo.push(b);
    const head = repo.requireBranch("main").meta.head!;
    expect(parseCommit(store.reader().get(head)!).parents.map(toHex).sort()).toEqual([toHex(ca), toHex(cb)].sort());
    expect(texts(repo.checkout(head))).toEqual(["a", "b", "base"]);
    expect(repo.commonAncestors(ca, cb)).toEqual([repo.commitInfo(ca).parents[0]!]);
  }, 5_000);

  test("pushes give up after the retry bound with a conflict error, keeping the commit", () => {
    const inner = new MemoryStore();
    const rival = new Repository(inner, SigningKey.fromSeed(new Uint8Array(32).fill(3)));
    rival.commit("main", fact("start"), "start");
    let n = 0;
    // Every CAS first lets a rival push, so ours always finds a new head.
    const contended = Object.assign(Object.create(inner) as MemoryStore, {
      update(id: BranchId, expected: Hash | null, next: Hash | null): CasResult {
        if (expected) rival.commit("main", fact(`rival ${n++}`), "rival");
        return inner.update(id, expected, next);
      },
    });
    const repo = new Repository(contended, key7);
    const ws = repo.pull("main");
    const mine = ws.commit(fact("mine"), "mine");
    try {
      repo.push(ws, 3);
      throw new Error("push should have failed");
    } catch (err) {
      expect(err).toBeInstanceOf(RepoError);
      expect((err as RepoError).code).toBe("conflict");
      expect((err as Error).message).toContain("after 3 retries");
    }
    expect(inner.reader().has(mine)).toBe(true);
    expect(n).toBe(4);
  }, 5_000);

  test("a push to a deleted branch or to a tracking branch is refused", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    repo.commit("main", fact("x"), "x");
    const ws = repo.pull("main");
    ws.commit(fact("y"), "y");
    repo.deleteBranch("main");
    expect(() => repo.push(ws)).toThrow("deleted");

    const remote = new Repository(new MemoryStore(), key7);
    remote.commit("main", fact("r"), "r");
    copyBlobs(remote.store, store);
    const applied = applyRemoteHead(store, key7.publicKey, remote.store.head(remote.requireBranch("main").id)!, remote.requireBranch("main").id);
    if (applied.status !== "applied") throw new Error(applied.status);
    const tracking = repo.pull(applied.trackingId);
    tracking.commit(fact("z"), "z");
    expect(() => repo.push(tracking)).toThrow("tracking branch");
  }, 5_000);

  test("updated_at always increases, even when the clock stands still", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7, { clock: () => T });
    const b = repo.createBranch("main");
    repo.commit("main", fact("1"), "1");
    repo.commit("main", fact("2"), "2");
    const meta = parseBranchMeta(store.reader().get(store.head(b.id)!)!);
    expect(meta.updatedAt!.lower).toBe(T + 2n);
  }, 5_000);

  test("a commit needs a key", () => {
    const repo = new Repository(new MemoryStore());
    expect(() => repo.commit("main", fact("x"), "x")).toThrow("no signing key");
  }, 5_000);
});

describe("merges", () => {
  test("fast-forward, up-to-date, and merge commits", () => {
    const repo = new Repository(new MemoryStore(), key7);
    repo.commit("main", fact("one"), "first");
    repo.createBranch("feature");
    expect(repo.merge("feature", "main").kind).toBe("fast-forward");
    expect(repo.merge("feature", "main").kind).toBe("up-to-date");
    repo.commit("feature", fact("two"), "on feature");
    expect(repo.merge("feature", "main").kind).toBe("up-to-date");
    expect(repo.merge("main", "feature").kind).toBe("fast-forward");
    repo.commit("feature", fact("three"), "on feature");
    repo.commit("main", fact("four"), "on main");
    const merged = repo.merge("main", "feature");
    expect(merged.kind).toBe("merge");
    expect(texts(repo.checkout(merged.head!))).toEqual(["four", "one", "three", "two"]);
    expect(repo.merge("main", "feature").kind).toBe("up-to-date");
    expect(repo.merge("feature", "main").kind).toBe("fast-forward");
    const main = repo.requireBranch("main").meta.head!;
    expect(repo.isAncestor(repo.requireBranch("feature").meta.head!, main)).toBe(true);
    expect([...repo.ancestors(main)].length).toBe(5);
  }, 5_000);

  test("two independent merges of the same heads are byte-identical", () => {
    const source = new Repository(new MemoryStore(), key7);
    source.commit("left", fact("l"), "l");
    source.commit("right", fact("r"), "r");
    const left = source.requireBranch("left").meta.head!;
    const right = source.requireBranch("right").meta.head!;
    const results: { handle: Hash; bytes: Uint8Array }[] = [];
    for (const order of [
      [left, right],
      [right, left],
    ] as const) {
      // Each peer has its own store and its own branch holding one of the heads.
      const store = new MemoryStore();
      copyBlobs(source.store, store);
      const peer = new Repository(store, SigningKey.generate());
      const b = peer.createBranch("main");
      peer.mergeInto(b, order[0]);
      const r = peer.mergeInto(peer.requireBranch("main"), order[1]);
      expect(r.kind).toBe("merge");
      results.push({ handle: r.head!, bytes: store.reader().get(r.head!)! });
    }
    expect(results[0]!.handle).toEqual(results[1]!.handle);
    expect(results[0]!.bytes).toEqual(results[1]!.bytes);
  }, 5_000);

  test("a merge walks about as many commits as lie between the heads, not the whole history", () => {
    // A store whose snapshots count the commit blobs read (the parsed-commit cache is
    // process-wide, so each commit here is new to it and read once at most).
    let reads = 0;
    class CountingStore extends MemoryStore {
      override reader() {
        const inner = super.reader();
        return Object.assign(Object.create(inner), {
          get: (h: Hash) => {
            reads++;
            return inner.get(h);
          },
        });
      }
    }
    const store = new CountingStore();
    const repo = new Repository(store, key7);
    let base = repo.commit("main", fact("c0"), "c0");
    for (let i = 1; i < 300; i++) base = repo.commit("main", fact(`c${i}`), `c${i}`);
    const ahead = repo.commit("main", fact("one more"), "one more");
    const behind = repo.pull("main");
    reads = 0;
    const ws = repo.pull("main");
    ws.head = base; // our branch is one commit behind the arriving head
    expect(ws.mergeCommit(ahead)).toBe("fast-forward");
    expect(reads).toBeLessThan(10);
    reads = 0;
    expect(behind.mergeCommit(base)).toBe("up-to-date"); // an old head arrives again
    expect(reads).toBeLessThan(10);
    expect(ancestry(store.reader(), ahead, base)).toBe("b-in-a");
    expect(ancestry(store.reader(), base, ahead)).toBe("a-in-b");
    expect(ancestry(store.reader(), base, base)).toBe("same");
    const other = new Repository(store, key7).commit("side", fact("elsewhere"), "elsewhere");
    expect(ancestry(store.reader(), other, ahead)).toBe("diverged");
  }, 20_000);

  test("missing history falls back to a merge commit instead of failing", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    repo.commit("main", fact("x"), "x");
    const unknown = hash(new TextEncoder().encode("a commit we never fetched"));
    const ws = repo.pull("main");
    expect(ws.mergeCommit(unknown)).toBe("merge");
    expect(parseCommit(ws.get(ws.head!)!).parents).toContainEqual(unknown);
  }, 5_000);
});

describe("file content schema", () => {
  test("files round-trip through content tribles; the same file gives the same tribles", () => {
    const files = [
      { name: "dir/a.txt", bytes: new TextEncoder().encode("alpha") },
      { name: "b.bin", bytes: new Uint8Array([0, 1, 2]) },
    ];
    const { content, blobs } = filesToContent(files);
    expect(content.size).toBe(6);
    expect(filesToContent(files).content.equals(content)).toBe(true);
    const records = filesInContent(content);
    expect(records.map((r) => r.size).sort()).toEqual([3n, 5n]);
    const byHandle = new Map(blobs.map((b) => [toHex(hash(b)), new TextDecoder().decode(b)]));
    expect(records.map((r) => byHandle.get(toHex(r.nameHandle))).sort()).toEqual(["a.txt", "b.bin"]);
  }, 5_000);
});

function copyBlobs(from: { reader(): { list(): Iterable<Hash>; get(h: Hash): Uint8Array | undefined } }, to: MemoryStore): void {
  const reader = from.reader();
  for (const h of reader.list()) to.put(reader.get(h)!);
}
