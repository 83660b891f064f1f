import { describe, expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { shortStringValue } from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { REPO_HEAD, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "../../src/repo/attributes.ts";
import { buildBranchMeta, parseBranchMeta, verifyBranchMeta } from "../../src/repo/branch-meta.ts";
import { buildCommit, buildMergeCommit, parseCommit, verifyCommit } from "../../src/repo/commit.ts";
import { Repository } from "../../src/repo/repository.ts";
import { applyRemoteHead, findTrackingBranch } from "../../src/repo/tracking.ts";

const T = 3_990_000_000_000_000_000n;
const key7 = SigningKey.fromSeed(new Uint8Array(32).fill(7));
const attr = new Uint8Array(16).fill(0x42);

function fact(text: string): TribleSet {
  return new TribleSet().add(genId(), attr, shortStringValue(text));
}

describe("commit bytes", () => {
  test("authored root commit matches the spec vector", () => {
    const c = buildCommit({ key: key7, content: new TribleSet(), parents: [], message: "initial", timestampNs: T });
    expect(c.bytes.length).toBe(448);
    expect(toHex(c.handle)).toBe("1ca40b62a3d5fdb01d5d7c7636fad512c0969db3a40b4f69d42fe1b6206bf489");
    const info = parseCommit(c.bytes);
    expect(info.author).toEqual(key7.publicKey);
    expect(info.createdAt).toBe(T);
    expect(verifyCommit(c.bytes, new Uint8Array(0))).toEqual(key7.publicKey);
  });

  test("merge commit vector and independent merges are byte-identical", () => {
    const p1 = new Uint8Array(32).fill(0x11);
    const p2 = new Uint8Array(32).fill(0x22);
    expect(toHex(buildMergeCommit([p1, p2]).handle)).toBe("5cae364f1b8c9b6908fb5016f504f7270affa1e4ff1db4db3325db044660a55a");
    expect(buildMergeCommit([p2, p1]).bytes).toEqual(buildMergeCommit([p1, p2]).bytes);
  });

  test("any flipped byte of content, commit or metadata breaks verification", () => {
    const content = fact("hello");
    const c = buildCommit({ key: key7, content, parents: [], message: "m", timestampNs: T });
    const contentBytes = c.blobs[0]!;
    for (let i = 0; i < contentBytes.length; i += 7) {
      const bad = contentBytes.slice();
      bad[i]! ^= 1;
      expect(() => verifyCommit(c.bytes, bad)).toThrow();
    }
    const meta = buildBranchMeta({ branchId: genId(), name: "main", head: { handle: c.handle, bytes: c.bytes }, key: key7, timestampNs: T });
    expect(verifyBranchMeta(meta.bytes, c.bytes)).toEqual(key7.publicKey);
    for (let i = 0; i < c.bytes.length; i += 5) {
      const bad = c.bytes.slice();
      bad[i]! ^= 0x80;
      expect(() => verifyBranchMeta(meta.bytes, bad)).toThrow();
    }
    // The signature covers the head commit; flipping any byte of the signature, signer or head breaks it.
    const signedAttrs = [REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY, REPO_HEAD].map(toHex);
    for (let at = 0; at < meta.bytes.length; at += 64) {
      if (!signedAttrs.includes(toHex(meta.bytes.subarray(at + 16, at + 32)))) continue;
      for (let i = at + 32; i < at + 64; i += 3) {
        const bad = meta.bytes.slice();
        bad[i]! ^= 0x01;
        expect(() => verifyBranchMeta(bad, c.bytes)).toThrow();
      }
    }
  });
});

describe("repository", () => {
  test("commit, log, checkout, fast-forward and merge", () => {
    const repo = new Repository(new MemoryStore(), key7);
    const c1 = repo.commit("main", fact("one"), "first");
    const c2 = repo.commit("main", fact("two"), "second");
    expect([...repo.ancestors(c2)].map(toHex)).toEqual([toHex(c2), toHex(c1)]);
    expect(repo.checkout(c2).size).toBe(2);
    expect(repo.checkout(c2, c1).size).toBe(1);
    repo.createBranch("feature");
    expect(repo.merge("feature", "main").kind).toBe("fast-forward");
    repo.commit("feature", fact("three"), "on feature");
    repo.commit("main", fact("four"), "on main");
    const merged = repo.merge("main", "feature");
    expect(merged.kind).toBe("merge");
    expect(repo.checkout(merged.head!).size).toBe(4);
    expect(repo.merge("main", "feature").kind).toBe("up-to-date");
    expect(repo.commonAncestors(repo.requireBranch("main").meta.head!, repo.requireBranch("feature").meta.head!).map(toHex)).toEqual([
      toHex(repo.requireBranch("feature").meta.head!),
    ]);
    expect(() => repo.requireBranch("nope")).toThrow('unknown branch "nope"');
    const before = repo.requireBranch("feature");
    const renamed = repo.renameBranch("feature", "topic");
    expect(renamed.id).toEqual(before.id);
    expect(renamed.meta.head).toEqual(before.meta.head!);
    expect(repo.lookupBranch("feature")).toBeNull();
    expect(() => repo.renameBranch("topic", "main")).toThrow("already exists");
  });

  test("tracking branches apply verified heads and drop stale updates", () => {
    const remote = new MemoryStore();
    const remoteRepo = new Repository(remote, key7);
    remoteRepo.commit("main", fact("a"), "a");
    const oldMeta = remote.head(remoteRepo.requireBranch("main").id)!;
    remoteRepo.commit("main", fact("b"), "b");
    const newMeta = remote.head(remoteRepo.requireBranch("main").id)!;

    // The local store holds the remote's blobs (as a fetch would leave them).
    const local = new MemoryStore();
    const reader = remote.reader();
    for (const h of reader.list()) local.put(reader.get(h)!);
    const peer = key7.publicKey;
    const applied = applyRemoteHead(local, peer, newMeta);
    expect(applied.status).toBe("applied");
    expect(applyRemoteHead(local, peer, oldMeta).status).toBe("stale");
    expect(applyRemoteHead(local, peer, newMeta).status).toBe("unchanged");
    const repo = new Repository(local);
    const tracking = findTrackingBranch(repo, peer, parseBranchMeta(reader.get(newMeta)!).branchId)!;
    expect(tracking.name).toBe("main");
    expect(tracking.meta.head).toEqual(parseBranchMeta(reader.get(newMeta)!).head!);
    expect(repo.lookupBranch("main")).toBeNull();

    // A forged signature is rejected and moves nothing.
    const forged = buildBranchMeta({ branchId: genId(), name: "evil", head: { handle: hash(new Uint8Array([1])), bytes: new Uint8Array([1]) }, key: key7 });
    local.putMany(forged.blobs);
    expect(applyRemoteHead(local, peer, forged.handle).status).toBe("rejected");
  });
});
