/** Tracking branches: verified before they move, stale updates dropped, invisible to name lookups. */
import { describe, expect, test } from "bun:test";
import { encodeSimpleArchive } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { intrinsicEntity } from "../../src/core/entity.ts";
import { genId } from "../../src/core/id.ts";
import { encodeLongString } from "../../src/core/longstring.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { METADATA_NAME, METADATA_UPDATED_AT } from "../../src/core/metadata.ts";
import { genIdValue, shortStringValue, signatureRValue, signatureSValue } from "../../src/core/schemas.ts";
import type { Hash } from "../../src/core/store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { REPO_BRANCH, REPO_HEAD, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY, TRACKING_PEER, TRACKING_REMOTE_BRANCH, TRACKING_REMOTE_NAME } from "../../src/repo/attributes.ts";
import { buildBranchMeta, parseBranchMeta } from "../../src/repo/branch-meta.ts";
import { buildCommit } from "../../src/repo/commit.ts";
import { mergeRemoteHead } from "../../src/repo/remote-merge.ts";
import { Repository } from "../../src/repo/repository.ts";
import { applyRemoteHead, findTrackingBranch, isTrackingBranch, isTrackingBranchId, type TrackingResult } from "../../src/repo/tracking.ts";

const T = 3_990_000_000_000_000_000n;
const key7 = SigningKey.fromSeed(new Uint8Array(32).fill(7));
const peerB = SigningKey.fromSeed(new Uint8Array(32).fill(0x11)).publicKey;
const attr = new Uint8Array(16).fill(0x42);
const fact = (text: string) => new TribleSet().add(genId(), attr, shortStringValue(text));

/** A remote store with branch "main" and a helper that copies its blobs into a local store. */
function remoteWithCommits(n: number, clock?: () => bigint) {
  const remote = new MemoryStore();
  const repo = new Repository(remote, key7, clock ? { clock } : {});
  const metas: Hash[] = [];
  for (let i = 0; i < n; i++) {
    repo.commit("main", fact(`c${i}`), `c${i}`);
    metas.push(remote.head(repo.requireBranch("main").id)!);
  }
  return { remote, repo, metas, branchId: repo.requireBranch("main").id };
}

function copyAll(from: MemoryStore, to: MemoryStore): void {
  const r = from.reader();
  for (const h of r.list()) to.put(r.get(h)!);
}

/** The branch id a metadata blob names (what an honest HEAD frame announces); a random id for bytes that are no metadata. */
function claimedId(store: MemoryStore, meta: Hash): Uint8Array {
  try {
    return parseBranchMeta(store.reader().get(meta)!).branchId;
  } catch {
    return genId();
  }
}

function applied(r: TrackingResult): Extract<TrackingResult, { status: "applied" }> {
  if (r.status !== "applied") throw new Error(`expected applied, got ${r.status}${"reason" in r ? `: ${r.reason}` : ""}`);
  return r;
}

describe("applyRemoteHead", () => {
  test("creates then moves a tracking branch; older and equal timestamps are dropped", () => {
    const { remote, metas, branchId } = remoteWithCommits(2);
    const local = new MemoryStore();
    copyAll(remote, local);
    const first = applied(applyRemoteHead(local, peerB, metas[1]!, claimedId(local, metas[1]!)));
    expect(first.name).toBe("main");
    expect(first.signer).toEqual(key7.publicKey);
    expect(applyRemoteHead(local, peerB, metas[0]!, claimedId(local, metas[0]!)).status).toBe("stale");
    expect(applyRemoteHead(local, peerB, metas[1]!, claimedId(local, metas[1]!)).status).toBe("unchanged");
    const repo = new Repository(local);
    const tracking = findTrackingBranch(repo, peerB, branchId)!;
    expect(tracking.id).toEqual(first.trackingId);
    expect(tracking.meta.head).toEqual(parseBranchMeta(local.reader().get(metas[1]!)!).head!);
    // Invisible to name lookups, marked as tracking.
    expect(repo.lookupBranch("main")).toBeNull();
    expect(isTrackingBranch(tracking.meta)).toBe(true);
    expect(isTrackingBranch(local.reader().get(tracking.metaHandle)!)).toBe(true);
    expect(isTrackingBranchId(local, tracking.id)).toBe(true);
    expect(isTrackingBranch(local.reader().get(metas[1]!)!)).toBe(false);
  }, 5_000);

  test("an update with the same updated_at but another head is dropped (strictly newer only)", () => {
    const { remote, repo, branchId } = remoteWithCommits(1, () => T);
    const head = repo.requireBranch("main").meta.head!;
    const headBytes = remote.reader().get(head)!;
    // Two metadata blobs for the same branch, same updated_at, different heads.
    const other = buildCommit({ key: key7, content: fact("other"), parents: [], message: "o", timestampNs: T });
    remote.putMany(other.blobs);
    const a = buildBranchMeta({ branchId, name: "main", head: { handle: head, bytes: headBytes }, key: key7, timestampNs: T + 5n });
    const b = buildBranchMeta({ branchId, name: "main", head: { handle: other.handle, bytes: other.bytes }, key: key7, timestampNs: T + 5n });
    remote.putMany([...a.blobs, ...b.blobs]);
    const local = new MemoryStore();
    copyAll(remote, local);
    applied(applyRemoteHead(local, peerB, a.handle, claimedId(local, a.handle)));
    expect(applyRemoteHead(local, peerB, b.handle, claimedId(local, b.handle)).status).toBe("stale");
    const c = buildBranchMeta({ branchId, name: "main", head: { handle: other.handle, bytes: other.bytes }, key: key7, timestampNs: T + 6n });
    local.putMany(c.blobs);
    expect(applied(applyRemoteHead(local, peerB, c.handle, claimedId(local, c.handle))).head).toEqual(other.handle);
  }, 5_000);

  test("metadata without updated_at always applies (the reference's rule)", () => {
    const local = new MemoryStore();
    const c = buildCommit({ key: key7, content: fact("x"), parents: [], message: "x", timestampNs: T });
    local.putMany(c.blobs);
    const branchId = genId();
    const name = encodeLongString("nots");
    local.put(name);
    const sig = key7.sign(c.bytes);
    const noTime = encodeSimpleArchive(
      intrinsicEntity([
        [REPO_BRANCH, genIdValue(branchId)],
        [METADATA_NAME, hash(name)],
        [REPO_HEAD, c.handle],
        [REPO_SIGNED_BY, key7.publicKey],
        [REPO_SIGNATURE_R, signatureRValue(sig)],
        [REPO_SIGNATURE_S, signatureSValue(sig)],
      ]).set,
    );
    const h = local.put(noTime);
    applied(applyRemoteHead(local, peerB, h, claimedId(local, h)));
    applied(applyRemoteHead(local, peerB, h, claimedId(local, h)));
  }, 5_000);

  test("bad signatures and missing blobs are rejected and move nothing", () => {
    const local = new MemoryStore();
    const c = buildCommit({ key: key7, content: fact("x"), parents: [], message: "x", timestampNs: T });
    local.putMany(c.blobs);
    const branchId = genId();
    const rejected = (h: Hash, why: string) => {
      const r = applyRemoteHead(local, peerB, h, claimedId(local, h));
      expect(r.status).toBe("rejected");
      expect(r.status === "rejected" && r.reason).toContain(why);
    };
    // Metadata whose signature value was altered.
    const good = buildBranchMeta({ branchId, name: "main", head: { handle: c.handle, bytes: c.bytes }, key: key7, timestampNs: T });
    const bad = good.bytes.slice();
    for (let at = 0; at < bad.length; at += 64) if (toHex(bad.subarray(at + 16, at + 32)) === toHex(REPO_SIGNATURE_S)) bad[at + 40]! ^= 1;
    local.putMany([good.blobs[0]!, bad]);
    rejected(hash(bad), "bad signature");
    // A validly signed branch head whose commit carries a broken signature.
    const forgedCommit = c.bytes.slice();
    for (let at = 0; at < forgedCommit.length; at += 64) if (toHex(forgedCommit.subarray(at + 16, at + 32)) === toHex(REPO_SIGNATURE_R)) forgedCommit[at + 33]! ^= 1;
    const forged = new TribleSet();
    for (let at = 0; at < forgedCommit.length; at += 64) forged.addTrible(forgedCommit.subarray(at, at + 64));
    const forgedBytes = encodeSimpleArchive(forged);
    local.put(forgedBytes);
    const signedOverForged = buildBranchMeta({ branchId, name: "main", head: { handle: hash(forgedBytes), bytes: forgedBytes }, key: SigningKey.generate(), timestampNs: T });
    local.putMany(signedOverForged.blobs);
    rejected(signedOverForged.handle, "bad signature");
    // Missing metadata, missing head commit.
    rejected(hash(new Uint8Array([9])), "not in the store");
    const orphan = buildCommit({ key: key7, content: fact("y"), parents: [], message: "y", timestampNs: T });
    const noHead = buildBranchMeta({ branchId, name: "main", head: { handle: orphan.handle, bytes: orphan.bytes }, key: key7, timestampNs: T });
    local.putMany(noHead.blobs);
    rejected(noHead.handle, "missing");
    expect(new Repository(local).listBranches()).toEqual([]);
  }, 5_000);

  test("tracking branches are per (peer, remote branch); tracking metadata from a remote is refused", () => {
    const { remote, metas, branchId } = remoteWithCommits(1);
    const local = new MemoryStore();
    copyAll(remote, local);
    const fromB = applied(applyRemoteHead(local, peerB, metas[0]!, claimedId(local, metas[0]!)));
    const fromC = applied(applyRemoteHead(local, key7.publicKey, metas[0]!, claimedId(local, metas[0]!)));
    expect(fromB.trackingId).not.toEqual(fromC.trackingId);
    const repo = new Repository(local);
    expect(findTrackingBranch(repo, peerB, branchId)!.id).toEqual(fromB.trackingId);
    const trackingMeta = local.head(fromB.trackingId)!;
    const r = applyRemoteHead(local, peerB, trackingMeta, claimedId(local, trackingMeta));
    expect(r.status).toBe("rejected");
  }, 5_000);

  test("tracking metadata holds exactly the reference's pairs", () => {
    const { remote, metas, branchId } = remoteWithCommits(1);
    const local = new MemoryStore();
    copyAll(remote, local);
    const r = applied(applyRemoteHead(local, peerB, metas[0]!, claimedId(local, metas[0]!)));
    const remoteMeta = parseBranchMeta(local.reader().get(metas[0]!)!);
    const expected = intrinsicEntity([
      [REPO_BRANCH, genIdValue(r.trackingId)],
      [REPO_HEAD, remoteMeta.head!],
      [TRACKING_REMOTE_NAME, hash(encodeLongString("main"))],
      [TRACKING_REMOTE_BRANCH, genIdValue(branchId)],
      [TRACKING_PEER, peerB],
      [METADATA_UPDATED_AT, remoteMeta.updatedAt!.value],
    ]);
    expect(local.reader().get(local.head(r.trackingId)!)).toEqual(encodeSimpleArchive(expected.set));
  }, 5_000);

  test("a tracking head merges into a local branch (as sync does), which keeps the remote's branch id", () => {
    const { remote, metas, branchId } = remoteWithCommits(2);
    const local = new MemoryStore();
    copyAll(remote, local);
    const r = applied(applyRemoteHead(local, peerB, metas[1]!, branchId));
    const repo = new Repository(local, SigningKey.generate());
    expect(mergeRemoteHead(repo, r.remoteBranch, r.name, r.head!).kind).toBe("created");
    expect(repo.requireBranch("main").id).toEqual(branchId);
    expect(repo.requireBranch("main").meta.head).toEqual(r.head!);
    expect(mergeRemoteHead(repo, r.remoteBranch, r.name, r.head!).kind).toBe("up-to-date");
    repo.commit("main", fact("local"), "local");
    expect(mergeRemoteHead(repo, r.remoteBranch, r.name, r.head!).kind).toBe("up-to-date");
    expect(repo.requireBranch("main").id).toEqual(branchId);
  }, 5_000);

  test("a local branch another process creates from the same tracking head between our look and our create is merged into, not an error", () => {
    const { remote, metas, branchId } = remoteWithCommits(2);
    const local = new MemoryStore();
    copyAll(remote, local);
    const r = applied(applyRemoteHead(local, peerB, metas[1]!, branchId));
    // The other process (a sync merging the same tracking head) wins the race: it creates "main"
    // under the remote's id just as we take the lock to create it ourselves.
    const other = new Repository(local, SigningKey.generate());
    let raced = false;
    const racing = Object.assign(Object.create(local) as MemoryStore, {
      withExclusiveLock<T>(fn: () => T): T {
        if (!raced) {
          raced = true;
          mergeRemoteHead(other, r.remoteBranch, r.name, r.head!);
        }
        return fn();
      },
    });
    const repo = new Repository(racing, SigningKey.generate());
    expect(mergeRemoteHead(repo, r.remoteBranch, r.name, r.head!).kind).toBe("up-to-date");
    expect(raced).toBe(true);
    expect(repo.listBranches().filter((b) => !b.tracking).map((b) => toHex(b.id))).toEqual([toHex(branchId)]);
  }, 5_000);

  test("metadata naming another branch than the one it was announced as moves nothing", () => {
    const { remote, metas } = remoteWithCommits(1);
    const local = new MemoryStore();
    copyAll(remote, local);
    const announced = genId();
    const r = applyRemoteHead(local, peerB, metas[0]!, announced);
    expect(r.status).toBe("rejected");
    expect(r.status === "rejected" && r.reason).toBe(`announced as branch ${toHex(announced)} but its metadata is branch ${toHex(claimedId(local, metas[0]!))} ("main")`);
    expect(new Repository(local).listBranches()).toEqual([]);
  }, 5_000);

  test("a remote head never merges across branch ids or names", () => {
    const { remote, metas, branchId } = remoteWithCommits(1);
    const local = new MemoryStore();
    copyAll(remote, local);
    const r = applied(applyRemoteHead(local, peerB, metas[0]!, branchId));
    const repo = new Repository(local, SigningKey.generate());
    // A "main" created here independently has another id: both are kept, nothing is merged.
    const mine = repo.commit("main", fact("mine"), "mine");
    const ours = repo.requireBranch("main");
    expect(() => mergeRemoteHead(repo, branchId, "main", r.head!)).toThrow(`local branch "main" is ${toHex(ours.id)}, the remote's "main" is another branch (${toHex(branchId)}); not merged, both are kept`);
    expect(repo.requireBranch("main").meta.head).toEqual(mine);
    // The remote's id under another local name (renamed here, or a head that names another branch).
    repo.renameBranch("main", "mine");
    repo.createBranch("other", undefined, branchId);
    expect(() => mergeRemoteHead(repo, branchId, "main", r.head!)).toThrow(`remote branch ${toHex(branchId)} is named "main" but the local branch with that id is named "other"; not merged`);
    expect(repo.requireBranch("other").meta.head).toBeUndefined();
  }, 5_000);
});
