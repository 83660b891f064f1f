/**
 * The repository over any store: named branches, signed commits pushed with compare-and-swap,
 * merges, and history. Every write goes through the store interfaces, so a Pile, a MemoryStore and
 * a network Peer are interchangeable here.
 */
import { decodeSimpleArchive } from "../core/archive.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { genId, type Id } from "../core/id.ts";
import { decodeLongString } from "../core/longstring.ts";
import type { BlobReader, BranchId, Hash, Store } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { type BranchMeta, buildBranchMeta, parseBranchMeta } from "./branch-meta.ts";
import { buildCommit, buildMergeCommit, type CommitInfo, parseCommit } from "./commit.ts";

export const DEFAULT_PUSH_RETRIES = 16;

export interface BranchInfo {
  id: BranchId;
  /** Handle of the branch-metadata blob (the pile's branch head). */
  metaHandle: Hash;
  meta: BranchMeta;
  /** Name (for tracking branches, the remote's name). */
  name: string;
  tracking: boolean;
}

export class RepoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RepoError";
  }
}

export class Repository {
  constructor(
    readonly store: Store,
    readonly key?: SigningKey,
  ) {}

  private blob(reader: BlobReader, h: Hash, what: string): Uint8Array {
    const bytes = reader.get(h);
    if (!bytes) throw new RepoError(`${what} ${toHex(h)} is missing from the store`);
    return bytes;
  }

  /** Every branch whose metadata can be read, with its name. */
  listBranches(): BranchInfo[] {
    // Read the heads first, then take the snapshot: a head moved by another process in between
    // then points at a metadata blob the snapshot already holds (blobs are written before heads).
    const heads = this.store.branches().map((id) => ({ id, metaHandle: this.store.head(id) }));
    const reader = this.store.reader();
    const out: BranchInfo[] = [];
    for (const { id, metaHandle } of heads) {
      if (!metaHandle) continue;
      const bytes = reader.get(metaHandle);
      if (!bytes) continue;
      let meta: BranchMeta;
      try {
        meta = parseBranchMeta(bytes);
      } catch {
        continue;
      }
      const nameHandle = meta.tracking?.remoteName ?? meta.name;
      const nameBytes = nameHandle ? reader.get(nameHandle) : undefined;
      const name = nameBytes ? decodeLongString(nameBytes) : "";
      out.push({ id, metaHandle, meta, name, tracking: meta.tracking !== undefined });
    }
    return out;
  }

  /** The one local (non-tracking) branch with this name, or null; several ⇒ error. */
  lookupBranch(name: string): BranchInfo | null {
    const matches = this.listBranches().filter((b) => !b.tracking && b.name === name);
    if (matches.length > 1) throw new RepoError(`branch name "${name}" is ambiguous (${matches.length} branches)`);
    return matches[0] ?? null;
  }

  /** Like lookupBranch, but a missing branch is an error. */
  requireBranch(name: string): BranchInfo {
    const b = this.lookupBranch(name);
    if (!b) throw new RepoError(`unknown branch "${name}"`);
    return b;
  }

  /** Creates an empty named branch (unsigned metadata, no head). */
  createBranch(name: string): BranchInfo {
    if (this.lookupBranch(name)) throw new RepoError(`branch "${name}" already exists`);
    const id = genId();
    const meta = buildBranchMeta({ branchId: id, name });
    this.store.putMany(meta.blobs);
    const result = this.store.update(id, null, meta.handle);
    if (!result.ok) throw new RepoError(`could not create branch "${name}"`);
    return this.requireBranch(name);
  }

  /**
   * Renames a branch: same id and head, new metadata blob with the new name (re-signed when the
   * branch has a head). Peers see it as an update of the same branch.
   */
  renameBranch(from: string, to: string): BranchInfo {
    const b = this.requireBranch(from);
    if (this.lookupBranch(to)) throw new RepoError(`branch "${to}" already exists`);
    const reader = this.store.reader();
    const head = b.meta.head;
    const meta = buildBranchMeta({
      branchId: b.id,
      name: to,
      ...(head ? { head: { handle: head, bytes: this.blob(reader, head, "commit") }, key: this.requireKey() } : {}),
    });
    this.store.putMany(meta.blobs);
    if (!this.store.update(b.id, b.metaHandle, meta.handle).ok) throw new RepoError(`branch "${from}" changed while renaming it; try again`);
    return this.requireBranch(to);
  }

  /** Deletes a branch (a tombstone in a pile). */
  deleteBranch(name: string): void {
    const b = this.requireBranch(name);
    const result = this.store.update(b.id, b.metaHandle, null);
    if (!result.ok) throw new RepoError(`branch "${name}" changed while deleting it; try again`);
  }

  /** Head commit handle of a branch, or null if it has none. */
  headCommit(branch: BranchInfo): Hash | null {
    return branch.meta.head ?? null;
  }

  commitInfo(handle: Hash, reader = this.store.reader()): CommitInfo {
    return parseCommit(this.blob(reader, handle, "commit"));
  }

  /**
   * Commits `content` on branch `name` (created if absent) and pushes it with compare-and-swap.
   * On conflict it merges with the branch's new head and retries, up to `retries` times.
   */
  commit(name: string, content: TribleSet, message: string, extraBlobs: Uint8Array[] = [], retries = DEFAULT_PUSH_RETRIES): Hash {
    const key = this.requireKey();
    if (extraBlobs.length) this.store.putMany(extraBlobs);
    const branch = this.lookupBranch(name) ?? this.createBranch(name);
    const parents = branch.meta.head ? [branch.meta.head] : [];
    const commit = buildCommit({ key, content, parents, message });
    this.store.putMany(commit.blobs);
    this.pushHead(branch, commit.handle, retries);
    return commit.handle;
  }

  /** Moves `branch` to a head containing `commitHandle`, merging with concurrent pushes. */
  private pushHead(branch: BranchInfo, commitHandle: Hash, retries: number): void {
    const key = this.requireKey();
    let base = branch.metaHandle;
    let head = commitHandle;
    for (let attempt = 0; attempt <= retries; attempt++) {
      const reader = this.store.reader();
      const meta = buildBranchMeta({ branchId: branch.id, name: branch.name, head: { handle: head, bytes: this.blob(reader, head, "commit") }, key });
      this.store.putMany(meta.blobs);
      const result = this.store.update(branch.id, base, meta.handle);
      if (result.ok) return;
      if (!result.current) throw new RepoError(`branch "${branch.name}" was deleted while pushing`);
      base = result.current;
      const theirs = parseBranchMeta(this.blob(this.store.reader(), base, "branch metadata")).head;
      if (theirs) head = this.mergeHeads(head, theirs);
    }
    throw new RepoError(`push to "${branch.name}" kept conflicting after ${retries} retries; try again`);
  }

  /** Merges `from` into `into` (fast-forward when possible) and pushes. Returns the new head. */
  merge(into: string, from: string): { head: Hash | null; kind: "up-to-date" | "fast-forward" | "merge" } {
    const target = this.requireBranch(into);
    const source = this.requireBranch(from);
    const theirs = source.meta.head;
    const ours = target.meta.head;
    if (!theirs) return { head: ours ?? null, kind: "up-to-date" };
    const merged = ours ? this.mergeHeads(ours, theirs) : theirs;
    if (ours && bytesEqual(merged, ours)) return { head: ours, kind: "up-to-date" };
    this.pushHead(target, merged, DEFAULT_PUSH_RETRIES);
    return { head: merged, kind: ours && !bytesEqual(merged, theirs) ? "merge" : "fast-forward" };
  }

  /**
   * Brings commit `head` (e.g. a tracking branch's head) into local branch `name`, creating the
   * branch if needed; fast-forwards when possible, else makes a merge commit, and pushes.
   */
  integrate(name: string, head: Hash): { head: Hash; kind: "up-to-date" | "fast-forward" | "merge" | "created" } {
    const existing = this.lookupBranch(name);
    const target = existing ?? this.createBranch(name);
    const ours = target.meta.head;
    const merged = ours ? this.mergeHeads(ours, head) : head;
    if (ours && bytesEqual(merged, ours)) return { head: ours, kind: "up-to-date" };
    this.pushHead(target, merged, DEFAULT_PUSH_RETRIES);
    return { head: merged, kind: !existing ? "created" : bytesEqual(merged, head) ? "fast-forward" : "merge" };
  }

  /** The commit that contains both heads: one of them if it is an ancestor of the other, else a merge commit. */
  mergeHeads(ours: Hash, theirs: Hash): Hash {
    if (bytesEqual(ours, theirs) || this.isAncestor(theirs, ours)) return ours;
    if (this.isAncestor(ours, theirs)) return theirs;
    const merge = buildMergeCommit([ours, theirs]);
    this.store.putMany(merge.blobs);
    return merge.handle;
  }

  /** True when `ancestor` is reachable from `descendant` through parent links (or equal). */
  isAncestor(ancestor: Hash, descendant: Hash): boolean {
    for (const h of this.ancestors(descendant)) if (bytesEqual(h, ancestor)) return true;
    return false;
  }

  /** Walks `start` and all its ancestors breadth-first, each once. */
  *ancestors(start: Hash): Generator<Hash> {
    const reader = this.store.reader();
    const seen = new Set<string>();
    const queue: Hash[] = [start];
    while (queue.length) {
      const h = queue.shift()!;
      const key = toHex(h);
      if (seen.has(key)) continue;
      seen.add(key);
      yield h;
      queue.push(...this.commitInfo(h, reader).parents);
    }
  }

  /** Commits reachable from both heads that are not ancestors of another such commit. */
  commonAncestors(a: Hash, b: Hash): Hash[] {
    const fromA = new Set([...this.ancestors(a)].map(toHex));
    const common = [...this.ancestors(b)].filter((h) => fromA.has(toHex(h)));
    return common.filter((c) => !common.some((other) => !bytesEqual(other, c) && this.isAncestor(c, other)));
  }

  /** Union of the content of `head` and its ancestors, stopping at (excluding) `since` and its ancestors. */
  checkout(head: Hash, since?: Hash): TribleSet {
    const reader = this.store.reader();
    const excluded = new Set(since ? [...this.ancestors(since)].map(toHex) : []);
    const out = new TribleSet();
    for (const h of this.ancestors(head)) {
      if (excluded.has(toHex(h))) continue;
      const info = this.commitInfo(h, reader);
      if (info.content) out.unionInPlace(decodeSimpleArchive(this.blob(reader, info.content, "commit content")));
    }
    return out;
  }

  private requireKey(): SigningKey {
    if (!this.key) throw new RepoError("no signing key: create one with `tribles pile net identity --create`");
    return this.key;
  }
}

/** Convenience for callers that only have an id. */
export function branchById(repo: Repository, id: Id): BranchInfo | undefined {
  return repo.listBranches().find((b) => bytesEqual(b.id, id));
}
