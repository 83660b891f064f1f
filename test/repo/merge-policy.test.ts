/** RemoteMergePolicy: what a sync merges into local branches, and when it leaves a head alone. */
import { expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { shortStringValue } from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { RemoteMergePolicy } from "../../src/repo/merge-policy.ts";
import { Repository } from "../../src/repo/repository.ts";
import { applyRemoteHead } from "../../src/repo/tracking.ts";

/** A remote member's commit to `name`, copied into `local`, applied to its tracking branch. */
function remoteCommit(local: MemoryStore, remote: { store: MemoryStore; key: SigningKey }, name: string, text: string) {
  const repo = new Repository(remote.store, remote.key);
  repo.commit(name, new TribleSet().add(genId(), genId(), shortStringValue(text)), text);
  const branch = repo.requireBranch(name);
  const reader = remote.store.reader();
  local.putMany([...reader.list()].map((h) => reader.get(h)!));
  return applyRemoteHead(local, remote.key.publicKey, branch.metaHandle, branch.id);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("a remote head is merged into the local branch of its id and name (created), once; a later one fast-forwards", () => {
  const local = new MemoryStore();
  const repo = new Repository(local, SigningKey.generate());
  const remote = { store: new MemoryStore(), key: SigningKey.generate() };
  const policy = new RemoteMergePolicy(repo);
  const first = remoteCommit(local, remote, "notes", "one");
  expect(first.status).toBe("applied");
  const merged = policy.apply(first);
  expect(merged).toMatchObject({ status: "merged", name: "notes", kind: "created" });
  expect(hex(repo.requireBranch("notes").id)).toBe(hex(new Repository(remote.store).requireBranch("notes").id));
  expect(policy.apply(first)).toBeUndefined(); // the same head again: nothing to do
  expect(policy.apply(remoteCommit(local, remote, "notes", "two"))).toMatchObject({ status: "merged", kind: "fast-forward" });
});

test("branches outside the wanted names are left in their tracking branches", () => {
  const local = new MemoryStore();
  const repo = new Repository(local, SigningKey.generate());
  const remote = { store: new MemoryStore(), key: SigningKey.generate() };
  const policy = new RemoteMergePolicy(repo, { branches: ["notes"] });
  expect(policy.apply(remoteCommit(local, remote, "drafts", "x"))).toBeUndefined();
  expect(repo.lookupBranch("drafts")).toBeNull();
  expect(policy.apply(remoteCommit(local, remote, "notes", "y"))).toMatchObject({ status: "merged" });
});

test("a remote branch whose name a local branch of another id holds is not merged: failed, with both kept", () => {
  const local = new MemoryStore();
  const repo = new Repository(local, SigningKey.generate());
  repo.commit("notes", new TribleSet().add(genId(), genId(), shortStringValue("mine")), "mine");
  const remote = { store: new MemoryStore(), key: SigningKey.generate() };
  const outcome = new RemoteMergePolicy(repo).apply(remoteCommit(local, remote, "notes", "theirs"));
  expect(outcome).toMatchObject({ status: "failed", name: "notes" });
  expect(outcome?.status === "failed" && outcome.error).toContain("another branch");
  expect(repo.listBranches().filter((b) => b.name === "notes").length).toBe(2); // ours and the tracking one
});
