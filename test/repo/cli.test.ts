/** `tribles pile commit | log | branch show | merge`, run as real child processes on real piles. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { encodeSimpleArchive } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { decodeLongString } from "../../src/core/longstring.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { Pile } from "../../src/pile/pile.ts";
import { REPO_SIGNATURE_S } from "../../src/repo/attributes.ts";
import { buildBranchMeta } from "../../src/repo/branch-meta.ts";
import { buildCommit } from "../../src/repo/commit.ts";
import { filesInContent } from "../../src/repo/files.ts";
import { Repository } from "../../src/repo/repository.ts";
import { applyRemoteHead } from "../../src/repo/tracking.ts";
import { tempDir } from "../pile/helpers.ts";
import { runCli } from "./fixtures/cli.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("tribles-repo-cli-");
});
afterEach(() => tmp.cleanup());

const tribles = (...args: string[]) => runCli(tmp.dir, ...args);

function expectError(r: { code: number; err: string }, mention: string): void {
  expect(r.code).not.toBe(0);
  expect(r.err.trim().split("\n").length).toBe(1);
  expect(r.err).toStartWith("error: ");
  expect(r.err).toContain(mention);
}

describe("tribles pile commit / log / branch show / merge", () => {
  test("commit files with a created key, then read them back through the pile", async () => {
    expect((await tribles("pile", "create", "r.pile")).code).toBe(0);
    writeFileSync(tmp.path("a.txt"), "alpha");
    writeFileSync(tmp.path("b.bin"), new Uint8Array([1, 2, 3]));
    // No key yet: a clear error that says how to make one, and the pile is untouched.
    const noKey = await tribles("pile", "commit", "r.pile", "-m", "first", "a.txt");
    expectError(noKey, "--create-key");
    expect(statSync(tmp.path("r.pile")).size).toBe(0);
    expectError(await tribles("pile", "commit", "r.pile", "a.txt"), "needs a message");
    expectError(await tribles("pile", "commit", "r.pile", "-m", "x", "missing.txt", "--create-key"), "missing.txt");

    const r = await tribles("pile", "commit", "r.pile", "-m", "first", "a.txt", "b.bin", "--create-key", "--json");
    expect(r.code).toBe(0);
    const { commit } = JSON.parse(r.out) as { commit: string };
    expect(statSync(tmp.path("self.key")).mode & 0o777).toBe(0o600);
    const seedHex = readFileSync(tmp.path("self.key"), "utf8");
    const key = SigningKey.fromSeed(fromHex(seedHex));
    // The new key is announced by its public half only.
    expect(r.err).toContain(`public key ${toHex(key.publicKey)}`);
    expect(r.err + r.out).not.toContain(seedHex);

    const pile = Pile.open(tmp.path("r.pile"));
    try {
      const repo = new Repository(pile);
      const main = repo.requireBranch("main");
      expect(toHex(main.meta.head!)).toBe(commit);
      expect(repo.verifyBranch(main).signer).toEqual(key.publicKey);
      const reader = pile.reader();
      const files = filesInContent(repo.checkout(main.meta.head!));
      const byName = new Map(files.map((f) => [decodeLongString(reader.get(f.nameHandle)!), reader.get(f.contentHandle)!]));
      expect(new TextDecoder().decode(byName.get("a.txt")!)).toBe("alpha");
      expect([...byName.get("b.bin")!]).toEqual([1, 2, 3]);
    } finally {
      pile.close();
    }
  }, 30_000);

  test("log, branch show, and merges (fast-forward, merge commit, up to date)", async () => {
    await tribles("pile", "create", "r.pile");
    const commitText = (args: string[], body: string) => {
      writeFileSync(tmp.path("f.txt"), body);
      return tribles("pile", "commit", "r.pile", "f.txt", ...args);
    };
    expect((await commitText(["-m", "one", "--create-key"], "1")).code).toBe(0);
    expect((await commitText(["--branch", "feature", "-m", "on feature"], "f")).code).toBe(0);
    const first = await tribles("pile", "merge", "r.pile", "--into", "feature", "--from", "main", "--json");
    expect(JSON.parse(first.out).kind).toBe("merge");
    expect((await commitText(["-m", "two"], "2")).code).toBe(0);
    const merged = await tribles("pile", "merge", "r.pile", "--into", "main", "--from", "feature");
    expect(merged.code).toBe(0);
    expect(merged.out).toContain("main merged feature: merge commit");
    expect((await tribles("pile", "merge", "r.pile", "--into", "main", "--from", "feature")).out).toContain("already up to date");
    expect((await tribles("pile", "merge", "r.pile", "--into", "feature", "--from", "main")).out).toContain("feature fast-forwarded to");

    const log = await tribles("pile", "log", "r.pile", "--json");
    expect(log.code).toBe(0);
    const commits = JSON.parse(log.out) as { hash: string; merge: boolean; message: string | null; signature: string }[];
    expect(commits[0]!.merge).toBe(true);
    expect(commits.filter((c) => !c.merge).map((c) => c.message).sort()).toEqual(["on feature", "one", "two"]);
    expect(commits.every((c) => c.signature !== "bad")).toBe(true);
    const text = await tribles("pile", "log", "r.pile", "-n", "2");
    expect(text.out.match(/^commit /gm)?.length).toBe(2);
    const show = await tribles("pile", "branch", "show", "r.pile", "main");
    expect(show.code).toBe(0);
    expect(show.out).toContain(`head ${commits[0]!.hash}`);
    expect(show.out).toContain("verified");

    expectError(await tribles("pile", "log", "r.pile", "--branch", "nope"), 'unknown branch "nope"');
    expectError(await tribles("pile", "branch", "show", "r.pile", "nope"), 'unknown branch "nope"');
    expectError(await tribles("pile", "merge", "r.pile", "--into", "main"), "--from");
    // A missing --into branch is created at the source's head.
    expect((await tribles("pile", "merge", "r.pile", "--into", "copy", "--from", "main")).out).toContain("created copy at");
  }, 60_000);

  test("commit keeps messages as typed, refuses empty ones, and records paths with their directories", async () => {
    await tribles("pile", "create", "r.pile");
    mkdirSync(tmp.path("d1"));
    mkdirSync(tmp.path("d2"));
    writeFileSync(tmp.path("d1/same.txt"), "one");
    writeFileSync(tmp.path("d2/same.txt"), "two");
    expectError(await tribles("pile", "commit", "r.pile", "-m", "  ", "d1/same.txt"), "needs a message");
    expect(statSync(tmp.path("r.pile")).size).toBe(0);
    expect((await tribles("pile", "commit", "r.pile", "-m", "x", "--create-key", "d1/same.txt", "d2/same.txt")).code).toBe(0);
    const paths = JSON.parse((await tribles("pile", "files", "r.pile", "--json")).out).files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(["d1/same.txt", "d2/same.txt"]);
    for (const message of ["007", "1.10", "0x10", "-5"]) {
      writeFileSync(tmp.path("d1/same.txt"), `for ${message}`);
      expect((await tribles("pile", "commit", "r.pile", "--message", message, "d1/same.txt", "--create-key")).code).toBe(0);
      expect(JSON.parse((await tribles("pile", "log", "r.pile", "-n", "1", "--json")).out)[0].message).toBe(message);
    }
  }, 30_000);

  test("merge --into NAME --from NAME adopts the tracking branch of that name, creating the local branch under the remote's id", async () => {
    await tribles("pile", "create", "a.pile");
    await tribles("pile", "create", "c.pile");
    writeFileSync(tmp.path("f.txt"), "from afar");
    expect((await tribles("pile", "commit", "a.pile", "-m", "remote work", "--key", "a.key", "--create-key", "f.txt")).code).toBe(0);
    // b.pile receives a.pile's blobs and a tracking branch for its main, as a pull leaves them.
    const a = Pile.open(tmp.path("a.pile"));
    const b = Pile.open(tmp.path("b.pile"));
    const c = Pile.open(tmp.path("c.pile"));
    const d = Pile.open(tmp.path("d.pile"));
    let remoteId = "";
    try {
      const reader = a.reader();
      b.putMany([...reader.list()].map((h) => reader.get(h)!));
      const main = new Repository(a).requireBranch("main");
      remoteId = toHex(main.id);
      expect(applyRemoteHead(b, new Uint8Array(32).fill(9), main.metaHandle, main.id).status).toBe("applied");
      b.flush();
      // c.pile made its own "main" before it heard of a's: another branch under the same name.
      c.putMany([...reader.list()].map((h) => reader.get(h)!));
      expect(applyRemoteHead(c, new Uint8Array(32).fill(9), main.metaHandle, main.id).status).toBe("applied");
      new Repository(c).createBranch("main");
      c.flush();
      d.putMany([...reader.list()].map((h) => reader.get(h)!));
      expect(applyRemoteHead(d, new Uint8Array(32).fill(9), main.metaHandle, main.id).status).toBe("applied");
      d.flush();
    } finally {
      a.close();
      b.close();
      c.close();
      d.close();
    }
    // A first commit to a branch d only tracks goes on the team's branch (its id, on top of its head).
    writeFileSync(tmp.path("g.txt"), "local work");
    const onTracked = await tribles("pile", "commit", "d.pile", "-m", "local work", "--key", "a.key", "g.txt");
    expect(onTracked.code).toBe(0);
    expect(onTracked.err.trim()).toBe(`note: made local branch main from its tracking branch (branch id ${remoteId}, the team's)`);
    expect(JSON.parse((await tribles("pile", "branch", "show", "d.pile", "main", "--json")).out).id).toBe(remoteId);
    const dLog = JSON.parse((await tribles("pile", "log", "d.pile", "--json")).out) as { message: string }[];
    expect(dLog.map((c) => c.message)).toEqual(["local work", "remote work"]);
    // Adopting by name never crosses ids: c's own main stays as it was, and it is told why and what to do.
    const crossed = await tribles("pile", "merge", "c.pile", "--into", "main", "--from", "main", "--key", "a.key");
    expectError(crossed, `the remote's "main" is another branch (${remoteId}); not merged, both are kept`);
    expect(crossed.err).toContain("tribles pile branch rename c.pile main main-mine");
    expectError(await tribles("pile", "merge", "b.pile", "--into", "other", "--from", "other", "--key", "a.key"), 'tracking branch named "other"');
    const adopted = await tribles("pile", "merge", "b.pile", "--into", "main", "--from", "main", "--key", "a.key", "--json");
    expect(adopted.code).toBe(0);
    expect(JSON.parse(adopted.out).kind).toBe("created");
    expect(JSON.parse((await tribles("pile", "branch", "show", "b.pile", "main", "--json")).out).id).toBe(remoteId);
    const files = JSON.parse((await tribles("pile", "files", "b.pile", "--json")).out).files as { name: string }[];
    expect(files.map((f) => f.name)).toEqual(["f.txt"]);
    expect((await tribles("pile", "merge", "b.pile", "--into", "main", "--from", "main", "--key", "a.key")).out).toContain("already up to date");
    // A tracking branch left behind is deleted by its id; the local branch stays.
    const listed = JSON.parse((await tribles("pile", "branch", "list", "b.pile", "--json")).out) as { id: string; tracking: boolean; updatedAt: string | null }[];
    const tracking = listed.find((x) => x.tracking)!;
    expect(tracking.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await tribles("pile", "branch", "delete", "b.pile", tracking.id)).code).toBe(0);
    const left = JSON.parse((await tribles("pile", "branch", "list", "b.pile", "--json")).out) as { tracking: boolean; name: string }[];
    expect(left.map((x) => [x.name, x.tracking])).toEqual([["main", false]]);
  }, 30_000);

  test("a bad signature is reported by log and branch show", async () => {
    await tribles("pile", "create", "r.pile");
    writeFileSync(tmp.path("g.txt"), "good");
    expect((await tribles("pile", "commit", "r.pile", "-m", "good", "--create-key", "g.txt")).code).toBe(0);
    // Append a commit whose signature was altered, under branch metadata validly signed over it.
    const key = SigningKey.fromSeed(fromHex(readFileSync(tmp.path("self.key"), "utf8")));
    const pile = Pile.open(tmp.path("r.pile"));
    try {
      const repo = new Repository(pile, key);
      const main = repo.requireBranch("main");
      const c = buildCommit({ key, content: new TribleSet(), parents: [main.meta.head!], message: "forged" });
      const tribles = [...TribleSet.fromTribles(chunks(c.bytes))].map((t) => t.slice());
      for (const t of tribles) if (toHex(t.subarray(16, 32)) === toHex(REPO_SIGNATURE_S)) t[40]! ^= 1;
      const forged = encodeSimpleArchive(TribleSet.fromTribles(tribles));
      pile.putMany([...c.blobs.slice(0, -1), forged]);
      const meta = buildBranchMeta({ branchId: main.id, name: "main", head: { handle: hash(forged), bytes: forged }, key });
      pile.putMany(meta.blobs);
      expect(pile.update(main.id, main.metaHandle, meta.handle).ok).toBe(true);
      pile.flush();
    } finally {
      pile.close();
    }
    const log = await tribles("pile", "log", "r.pile");
    expect(log.code).not.toBe(0);
    expect(log.out).toContain("BAD SIGNATURE");
    expect(log.err).toContain("1 commit has a bad signature");
    const show = await tribles("pile", "branch", "show", "r.pile", "main");
    expect(show.code).not.toBe(0);
    expect(show.err).toContain("bad signature");
  }, 30_000);
});

function chunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 64) out.push(bytes.subarray(at, at + 64));
  return out;
}
