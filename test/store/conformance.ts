/**
 * What every store promises (src/core/store.ts), as one suite run against each implementation, so
 * that MemoryStore, Pile and Peer stay interchangeable as DESIGN says: code written against a
 * store (the repository, the sync) works on any of them. `referenceConformance` reads the piles
 * the Rust reference wrote through a store.
 */
import { describe, expect, test } from "bun:test";
import { genId } from "../../src/core/id.ts";
import { shortStringValue } from "../../src/core/schemas.ts";
import type { Store } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { Repository } from "../../src/repo/repository.ts";
import { decodeSimpleArchive } from "../../src/core/archive.ts";
import { fromHex } from "../../src/core/bytes.ts";
import { decodeLongString } from "../../src/core/longstring.ts";
import { parseBranchMeta, verifyBranchMeta } from "../../src/repo/branch-meta.ts";
import { parseCommit, verifyCommit } from "../../src/repo/commit.ts";
import { filesInContent } from "../../src/repo/files.ts";
import { independentHash } from "../pile/helpers.ts";
import { copyReference, MANIFEST, referenceText } from "../repo/fixtures/reference.ts";

/** A fresh, empty store and how to dispose of it. */
export interface StoreUnderTest {
  store: Store;
  close(): void | Promise<void>;
}

/** Which optional methods the implementation must offer (a wrapper offers what it wraps). */
export interface Offers {
  exclusiveLock: boolean;
  branchVersion: boolean;
  sizeOf: boolean;
}

const enc = new TextEncoder();
const blob = (text: string) => enc.encode(text);
const fakeHead = (n: number) => independentHash(blob(`head ${n}`));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export function storeConformance(name: string, make: () => StoreUnderTest | Promise<StoreUnderTest>, offers: Offers): void {
  /** Runs `body` on a fresh store, disposing of it however the body ends. */
  const withStore = (body: (store: Store) => void | Promise<void>) => async () => {
    const made = await make();
    try {
      await body(made.store);
    } finally {
      await made.close();
    }
  };

  describe(`store conformance: ${name}`, () => {
    test(
      "put returns the BLAKE3 hash; get, has, len and list agree; a duplicate is stored once",
      withStore((store) => {
        const a = store.put(blob("alpha"));
        expect(hex(a)).toBe(hex(independentHash(blob("alpha"))));
        expect(hex(store.put(blob("alpha")))).toBe(hex(a));
        const empty = store.put(new Uint8Array(0));
        const reader = store.reader();
        expect(reader.len).toBe(2);
        expect(reader.has(a)).toBe(true);
        expect(new TextDecoder().decode(reader.get(a)!)).toBe("alpha");
        expect(reader.get(empty)!.length).toBe(0);
        expect([...reader.list()].map(hex).sort()).toEqual([hex(a), hex(empty)].sort());
        const absent = independentHash(blob("absent"));
        expect(reader.has(absent)).toBe(false);
        expect(reader.get(absent)).toBeUndefined();
        reader.checkMany([a, absent]);
      }),
    );

    test(
      "putMany returns hashes in order and stores a batch's duplicates once; putVerified stores under the given hashes",
      withStore((store) => {
        const blobs = [blob("one"), blob("two"), blob("one")];
        const hashes = store.putMany(blobs);
        expect(hashes.map(hex)).toEqual(blobs.map((b) => hex(independentHash(b))));
        expect(store.reader().len).toBe(2);
        const verified = [blob("three"), blob("four")];
        store.putVerified(
          verified,
          verified.map((b) => independentHash(b)),
        );
        const reader = store.reader();
        expect(reader.len).toBe(4);
        for (const b of verified) expect(new TextDecoder().decode(reader.get(independentHash(b))!)).toBe(new TextDecoder().decode(b));
      }),
    );

    test(
      "a reader is a snapshot: blobs stored after it was taken are not in it",
      withStore((store) => {
        const a = store.put(blob("before"));
        const snapshot = store.reader();
        const b = store.put(blob("after"));
        expect(snapshot.has(a)).toBe(true);
        expect(snapshot.has(b)).toBe(false);
        expect(snapshot.get(b)).toBeUndefined();
        expect(snapshot.len).toBe(1);
        expect([...snapshot.list()].map(hex)).toEqual([hex(a)]);
        expect(store.reader().has(b)).toBe(true);
      }),
    );

    test(
      `sizeOf is ${offers.sizeOf ? "offered and gives stored lengths" : "not offered"}`,
      withStore((store) => {
        const a = store.put(blob("12345"));
        const reader = store.reader();
        expect(typeof reader.sizeOf === "function").toBe(offers.sizeOf);
        if (!reader.sizeOf) return;
        expect(reader.sizeOf(a)).toBe(5);
        expect(reader.sizeOf(independentHash(blob("absent")))).toBeUndefined();
      }),
    );

    test(
      "branches: create, move and delete by compare-and-swap; a wrong expectation changes nothing and reports the current head",
      withStore((store) => {
        const id = genId();
        expect(store.branches()).toEqual([]);
        expect(store.head(id)).toBeNull();
        expect(store.update(id, null, fakeHead(1))).toEqual({ ok: true });
        expect(hex(store.head(id)!)).toBe(hex(fakeHead(1)));
        expect(store.branches().map(hex)).toEqual([hex(id)]);

        const created = store.update(id, null, fakeHead(2));
        expect(created.ok).toBe(false);
        if (!created.ok) expect(hex(created.current!)).toBe(hex(fakeHead(1)));
        const stale = store.update(id, fakeHead(3), fakeHead(2));
        expect(stale.ok).toBe(false);
        if (!stale.ok) expect(hex(stale.current!)).toBe(hex(fakeHead(1)));
        expect(hex(store.head(id)!)).toBe(hex(fakeHead(1)));

        // Ids and heads are compared by bytes, not by identity of the arrays.
        expect(store.update(id.slice(), fakeHead(1).slice(), fakeHead(2))).toEqual({ ok: true });
        expect(hex(store.head(id.slice())!)).toBe(hex(fakeHead(2)));

        expect(store.update(id, fakeHead(2), null)).toEqual({ ok: true });
        expect(store.head(id)).toBeNull();
        expect(store.branches()).toEqual([]);
        const gone = store.update(id, fakeHead(2), fakeHead(3));
        expect(gone).toEqual({ ok: false, current: null });
      }),
    );

    test(
      "the store keeps its own copy of ids and heads: changing the caller's arrays afterwards changes nothing",
      withStore((store) => {
        const id = genId();
        const head = fakeHead(1);
        store.update(id, null, head);
        const idCopy = id.slice();
        id.fill(7);
        head.fill(7);
        expect(hex(store.head(idCopy)!)).toBe(hex(fakeHead(1)));
        expect(store.branches().map(hex)).toEqual([hex(idCopy)]);
        const listed = store.branches()[0]!;
        listed.fill(9);
        expect(store.branches().map(hex)).toEqual([hex(idCopy)]);
      }),
    );

    test(
      "many branches are kept apart",
      withStore((store) => {
        const ids = Array.from({ length: 50 }, () => genId());
        for (const [i, id] of ids.entries()) expect(store.update(id, null, fakeHead(i)).ok).toBe(true);
        expect(store.branches().map(hex).sort()).toEqual(ids.map(hex).sort());
        for (const [i, id] of ids.entries()) expect(hex(store.head(id)!)).toBe(hex(fakeHead(i)));
      }),
    );

    test(
      `branchVersion is ${offers.branchVersion ? "offered: it changes with every branch change and stays put otherwise" : "not offered"}`,
      withStore((store) => {
        expect(typeof store.branchVersion === "function").toBe(offers.branchVersion);
        if (!store.branchVersion) return;
        const id = genId();
        const v0 = store.branchVersion();
        store.put(blob("a blob is not a branch change"));
        store.reader();
        store.branches();
        expect(store.branchVersion()).toBe(v0);
        store.update(id, null, fakeHead(1));
        const v1 = store.branchVersion();
        expect(v1).not.toBe(v0);
        expect(store.update(id, fakeHead(9), fakeHead(2)).ok).toBe(false);
        expect(store.branchVersion()).toBe(v1);
        store.update(id, fakeHead(1), fakeHead(2));
        const v2 = store.branchVersion();
        expect(v2).not.toBe(v1);
        store.update(id, fakeHead(2), null);
        expect(store.branchVersion()).not.toBe(v2);
      }),
    );

    test(
      `withExclusiveLock is ${offers.exclusiveLock ? "offered: it returns fn's result, the store works inside, and a throw releases it" : "not offered"}`,
      withStore((store) => {
        expect(typeof store.withExclusiveLock === "function").toBe(offers.exclusiveLock);
        if (!store.withExclusiveLock) return;
        const id = genId();
        const result = store.withExclusiveLock(() => {
          // check-then-act, as atomic branch creation does
          expect(store.head(id)).toBeNull();
          store.put(blob("inside"));
          expect(store.update(id, null, fakeHead(1)).ok).toBe(true);
          return 42;
        });
        expect(result).toBe(42);
        expect(hex(store.head(id)!)).toBe(hex(fakeHead(1)));
        expect(() =>
          store.withExclusiveLock!(() => {
            throw new Error("boom");
          }),
        ).toThrow("boom");
        expect(store.withExclusiveLock(() => store.update(id, fakeHead(1), fakeHead(2)).ok)).toBe(true);
      }),
    );

    test(
      "a Repository commits facts to a named branch and reads them back through it",
      withStore((store) => {
        const key = SigningKey.fromSeed(new Uint8Array(32).fill(5));
        const repo = new Repository(store, key);
        const attr = genId();
        const facts = new TribleSet().add(genId(), attr, shortStringValue("hello"));
        repo.commit("main", facts, "first");
        repo.commit("main", new TribleSet().add(genId(), attr, shortStringValue("again")), "second");
        const branch = repo.requireBranch("main");
        expect(repo.checkout(branch.meta.head!).find({ a: attr }).length).toBe(2);
        // A second name cannot be created twice (createBranch checks under the lock when offered).
        repo.createBranch("drafts");
        expect(() => repo.createBranch("drafts")).toThrow("already exists");
        expect(repo.listBranches().map((b) => b.name).sort()).toEqual(["drafts", "main"]);
      }),
    );
  });
}

/** Opens a store on a copy of a pile file (and how to dispose of it). */
export type OpenOnFile = (path: string) => StoreUnderTest | Promise<StoreUnderTest>;

/**
 * The read side of the suite on the piles the Rust reference wrote (test/repo/fixtures/reference):
 * every blob, branch, commit, signature and file MANIFEST.json lists comes back identical through
 * the store interface. `copyTo` names a fresh path for a copy of a fixture.
 */
export function referenceConformance(name: string, copyTo: (fixture: string) => string, open: OpenOnFile): void {
  // A torn tail is cut (and saved aside) on open; what is before it reads as ref-main.pile does.
  const piles: [file: string, manifest: string][] = [
    ["ref-main.pile", "ref-main.pile"],
    ["ref-blobs.pile", "ref-blobs.pile"],
    ["ref-main-torn-tail.pile", "ref-main.pile"],
  ];
  describe(`reference piles: ${name}`, () => {
    for (const [file, listed] of piles) {
      const want = MANIFEST.fixtures[listed]!;
      const onStore = (body: (store: Store) => void | Promise<void>) => async () => {
        const made = await open(copyReference(file, copyTo(file)));
        try {
          await body(made.store);
        } finally {
          await made.close();
        }
      };

      test(
        `${file}: every blob, by hash and length; the standalone blobs byte for byte`,
        onStore((store) => {
          const reader = store.reader();
          expect([...reader.list()].map(hex).sort()).toEqual(want.blobs.map((b) => b.hash).sort());
          for (const { hash, len } of want.blobs) {
            const bytes = reader.get(fromHex(hash))!;
            expect(bytes.length).toBe(len);
            expect(hex(independentHash(bytes))).toBe(hash);
          }
          // Written with Pile::put: payload byte i = (i*31 + len*7 + 11) mod 251 (MANIFEST.md).
          for (const len of [0, 1, 63, 64, 65, 4096, 70000]) {
            const payload = Uint8Array.from({ length: len }, (_, i) => (i * 31 + len * 7 + 11) % 251);
            expect(reader.get(independentHash(payload))).toEqual(payload);
          }
        }),
      );

      test(
        `${file}: branches, heads, names and signatures; a deleted branch stays deleted`,
        onStore((store) => {
          const reader = store.reader();
          expect(store.branches().map(hex).sort()).toEqual(want.branches.map((b) => b.id.toLowerCase()).sort());
          for (const b of want.branches) {
            const metaHandle = store.head(fromHex(b.id))!;
            expect(hex(metaHandle)).toBe(b.meta);
            const metaBytes = reader.get(metaHandle)!;
            const meta = parseBranchMeta(metaBytes);
            expect(hex(meta.branchId)).toBe(b.id.toLowerCase());
            expect(decodeLongString(reader.get(meta.name!)!)).toBe(b.name);
            expect(meta.head ? hex(meta.head) : null).toBe(b.head);
            expect(meta.signedBy ? hex(meta.signedBy) : null).toBe(b.signed_by);
            if (b.signature) expect(containsSignature(metaBytes, b.signature)).toBe(true);
            if (b.branch_verify === "ok") expect(hex(verifyBranchMeta(metaBytes, reader.get(meta.head!)!))).toBe(MANIFEST.public_key);
          }
          for (const d of want.deleted_branches) {
            expect(store.head(fromHex(d.id))).toBeNull();
            expect(reader.has(fromHex(d.last_meta))).toBe(true); // a tombstone deletes the branch, not its blobs
          }
        }),
      );

      test(
        `${file}: commits (message, parents, content, signature) and the files they hold`,
        onStore((store) => {
          const reader = store.reader();
          for (const [handle, c] of Object.entries(want.commits)) {
            const bytes = reader.get(fromHex(handle))!;
            const info = parseCommit(bytes);
            expect(info.parents.map(hex)).toEqual(c.parents);
            expect(info.content ? hex(info.content) : null).toBe(c.content);
            expect(info.message ? decodeLongString(reader.get(info.message)!) : null).toBe(c.message);
            expect(info.author ? hex(info.author) : null).toBe(c.signed_by);
            if (c.signature) expect(containsSignature(bytes, c.signature)).toBe(true);
            const content = info.content ? reader.get(info.content) : undefined;
            if (c.commit_verify === "ok") expect(hex(verifyCommit(bytes, content)!)).toBe(MANIFEST.public_key);
            const files = content ? filesInContent(decodeSimpleArchive(content)) : [];
            const listed = files.map((f) => ({ name: decodeLongString(reader.get(f.nameHandle)!), size: Number(f.size), content: hex(f.contentHandle) }));
            expect(listed.sort((x, y) => x.name.localeCompare(y.name))).toEqual(c.files.map(({ name, size, content }) => ({ name, size, content })).sort((x, y) => x.name.localeCompare(y.name)));
            for (const f of c.files) {
              const text = reader.get(fromHex(f.content))!;
              if (f.name in MANIFEST.text_files) expect(new TextDecoder().decode(text)).toBe(referenceText(f.name));
              else expect(text.length).toBe(f.size);
            }
          }
        }),
      );
    }
  });
}

/** Whether the 64-byte ed25519 signature `sigHex` (r then s) is stored in the archive `bytes`. */
function containsSignature(bytes: Uint8Array, sigHex: string): boolean {
  const h = hex(bytes);
  return h.includes(sigHex.slice(0, 64)) && h.includes(sigHex.slice(64));
}
