/**
 * The repository over any store: named branches, workspaces pushed with compare-and-swap (merging
 * and retrying on conflict), merges and history. Every write goes through the store interfaces,
 * so a Pile, a MemoryStore and a network Peer are interchangeable here.
 */
import type { SigningKey } from "../core/ed25519.ts";
import { genId } from "../core/id.ts";
import { decodeLongString } from "../core/longstring.ts";
import { nowTaiNs } from "../core/schemas.ts";
import type { BlobReader, BranchId, Hash, Store } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { requireBlob } from "./archive-read.ts";
import { type BranchMeta, buildBranchMeta, isUnsignedHead, parseBranchMeta, verifyBranchMeta } from "./branch-meta.ts";
import type { CommitInfo } from "./commit.ts";
import { RepoError } from "./errors.ts";
import { ancestors, checkoutRange, commonAncestors, isAncestor, readCommit, type VerifiedCommit, verifyHistory } from "./history.ts";
import { type MergeKind, Workspace } from "./workspace.ts";

export { RepoError } from "./errors.ts";

/** Conflicts a push absorbs (merge, retry) before it gives up with a "conflict" error. */
export const DEFAULT_PUSH_RETRIES = 16;

/** A branch as the repository lists it: id, head metadata and name. */
export interface BranchInfo {
  id: BranchId;
  /** Handle of the branch-metadata blob (the store's branch head). */
  metaHandle: Hash;
  meta: BranchMeta;
  /** The branch name (for tracking branches, the remote's name); "" when unreadable. */
  name: string;
  tracking: boolean;
}

/** How a repository stamps what it writes. */
export interface RepositoryOptions {
  /** TAI nanoseconds for created_at / updated_at; tests inject a fixed clock. */
  clock?: () => bigint;
  /** Commit-metadata set attached to every commit (the reference's default is the empty set). */
  commitMetadata?: TribleSet;
}

/** Named branches of facts over any store: commit, pull, push, merge, check out. */
export class Repository {
  private readonly clock: () => bigint;

  /** A repository over `store`; `key` signs commits and branch heads (without it, reads only). */
  constructor(
    readonly store: Store,
    readonly key?: SigningKey,
    private readonly options: RepositoryOptions = {},
  ) {
    this.clock = options.clock ?? nowTaiNs;
  }

  /** The repository clock (TAI ns), as commits and branch updates are stamped. */
  now(): bigint {
    return this.clock();
  }

  // ── Branches ────────────────────────────────────────────────────────────────────────────────

  /** Every branch whose metadata can be read (see `branchOverview` for the others), with its name. */
  listBranches(): BranchInfo[] {
    return this.branchOverview().branches;
  }

  /**
   * Every live branch: those whose metadata reads, and those whose metadata blob is missing (a
   * partial copy: the branch record arrived before its blob) or unreadable (damaged, malformed).
   * The reference lists the latter too; they can only be deleted (by id).
   */
  branchOverview(): { branches: BranchInfo[]; unreadable: UnreadableBranch[] } {
    const heads: [BranchId, Hash][] = [];
    for (const id of this.store.branches()) {
      const metaHandle = this.store.head(id);
      if (metaHandle) heads.push([id, metaHandle]);
    }
    // The snapshot is taken after the heads are read: a writer stores metadata before it moves a
    // head, so this snapshot holds every blob those heads name (an earlier one might not).
    const reader = this.store.reader();
    const branches: BranchInfo[] = [];
    const unreadable: UnreadableBranch[] = [];
    for (const [id, metaHandle] of heads) {
      const info = inspectBranch(reader, id, metaHandle);
      if ("problem" in info) unreadable.push(info);
      else branches.push(info);
    }
    return { branches, unreadable };
  }

  /** The branch with this id, or null if it does not exist or its metadata is unreadable. */
  branchById(id: BranchId): BranchInfo | null {
    const metaHandle = this.store.head(id);
    return metaHandle ? readBranch(this.store.reader(), id, metaHandle) : null;
  }

  /** The one local (non-tracking) branch with this name, or null; several ⇒ "ambiguous-branch". */
  lookupBranch(name: string): BranchInfo | null {
    const matches = this.listBranches().filter((b) => !b.tracking && b.name === name);
    if (matches.length > 1) throw new RepoError(`branch name "${name}" is ambiguous (${matches.length} branches have it)`, "ambiguous-branch");
    return matches[0] ?? null;
  }

  /** Like lookupBranch, but a missing branch is an "unknown-branch" error. */
  requireBranch(name: string): BranchInfo {
    const b = this.lookupBranch(name);
    if (!b) throw new RepoError(`unknown branch "${name}"`, "unknown-branch");
    return b;
  }

  /**
   * Creates a named branch with a fresh random id (or `id`: a branch made from a remote one keeps
   * the remote's id, see remote-merge.ts): empty (unsigned metadata) or, given `head`, pointing at
   * that commit (signed with the repository key). The name is checked again, and the branch
   * created, under the store's exclusive lock when it has one, so concurrent creators of one name
   * (processes sharing a pile) make one branch; the others get "branch-exists".
   */
  createBranch(name: string, head?: Hash, id: BranchId = genId()): BranchInfo {
    const taken = () => {
      if (this.lookupBranch(name)) throw new RepoError(`branch "${name}" already exists`, "branch-exists");
    };
    taken();
    const meta = buildBranchMeta({ branchId: id, name, timestampNs: this.clock(), ...this.signedHead(head) });
    this.store.putMany(meta.blobs);
    const create = () => {
      taken();
      if (!this.store.update(id, null, meta.handle).ok) throw new RepoError(`could not create branch "${name}"`, "conflict");
    };
    if (this.store.withExclusiveLock) this.store.withExclusiveLock(create);
    else create();
    return this.branchById(id)!;
  }

  /** The branch with this name, created empty if there is none. */
  ensureBranch(name: string): BranchInfo {
    const existing = this.lookupBranch(name);
    if (existing) return existing;
    try {
      return this.createBranch(name);
    } catch (err) {
      // Another writer created it between our lookup and our create.
      if (err instanceof RepoError && err.code === "branch-exists") return this.requireBranch(name);
      throw err;
    }
  }

  /**
   * Renames a branch: same id and head, new metadata with the new name (re-signed when the branch
   * has a head), as the reference's `pile branch rename` does. Peers see an update of the branch.
   */
  renameBranch(from: string, to: string): BranchInfo {
    if (this.lookupBranch(to)) throw new RepoError(`branch "${to}" already exists`, "branch-exists");
    let b = this.requireBranch(from);
    for (let attempt = 0; attempt <= DEFAULT_PUSH_RETRIES; attempt++) {
      const meta = buildBranchMeta({ branchId: b.id, name: to, timestampNs: this.nextUpdatedAt(b.meta), ...this.signedHead(b.meta.head) });
      this.store.putMany(meta.blobs);
      const result = this.store.update(b.id, b.metaHandle, meta.handle);
      if (result.ok) return this.branchById(b.id)!;
      if (!result.current) break;
      const now = readBranch(this.store.reader(), b.id, result.current);
      if (!now) break;
      b = now;
    }
    throw new RepoError(`branch "${from}" changed or vanished while renaming it; try again`, "conflict");
  }

  /** Deletes a branch (a tombstone in a pile); its blobs stay. */
  deleteBranch(name: string): void {
    const b = this.requireBranch(name);
    if (!this.store.update(b.id, b.metaHandle, null).ok) throw new RepoError(`branch "${name}" changed while deleting it; try again`, "conflict");
  }

  // ── Workspaces, commits and pushes ─────────────────────────────────────────────────────────────

  /** Checks out a branch (by name or id) into a workspace. */
  pull(branch: string | BranchId): Workspace {
    const b = typeof branch === "string" ? this.requireBranch(branch) : this.branchById(branch);
    if (!b) throw new RepoError("unknown branch id", "unknown-branch");
    return new Workspace(this.store, b.id, b.metaHandle, b.meta.head ?? null, this.key, this.clock, this.options.commitMetadata);
  }

  /**
   * One push attempt: uploads the staged blobs, then moves the branch from the workspace's base
   * metadata to new signed metadata naming the workspace head. Returns null on success, or a
   * workspace at the branch's current head when someone else pushed first.
   */
  tryPush(ws: Workspace): Workspace | null {
    const staged = ws.stagedBlobs();
    if (staged.length) this.store.putMany(staged);
    if (!ws.changed || !ws.head) {
      ws.markPushed(ws.baseMeta);
      return null;
    }
    const reader = this.store.reader();
    const base = parseBranchMeta(requireBlob(reader, ws.baseMeta, "branch metadata"));
    if (base.tracking || !base.name) throw new RepoError("cannot push to a tracking branch or a branch without a name", "not-pushable");
    const key = this.requireKey();
    const meta = buildBranchMeta({
      branchId: ws.branchId,
      name: { handle: base.name },
      head: { handle: ws.head, bytes: requireBlob(reader, ws.head, "head commit") },
      key,
      timestampNs: this.nextUpdatedAt(base),
    });
    this.store.putMany(meta.blobs);
    const result = this.store.update(ws.branchId, ws.baseMeta, meta.handle);
    if (result.ok) {
      ws.markPushed(meta.handle);
      return null;
    }
    if (!result.current) throw new RepoError("the branch was deleted while pushing", "unknown-branch");
    const theirs = parseBranchMeta(requireBlob(this.store.reader(), result.current, "branch metadata"));
    return new Workspace(this.store, ws.branchId, result.current, theirs.head ?? null, this.key, this.clock, this.options.commitMetadata);
  }

  /**
   * Pushes with compare-and-swap; on conflict merges the workspace into the branch's new head and
   * retries, at most `retries` times, then fails with a "conflict" error (nothing is lost: the
   * commits stay in the store and the workspace still holds its head).
   */
  push(ws: Workspace, retries = DEFAULT_PUSH_RETRIES): void {
    for (let conflicts = 0; ; conflicts++) {
      const theirs = this.tryPush(ws);
      if (!theirs) return;
      if (conflicts >= retries) throw new RepoError(`push kept conflicting after ${retries} retries (others are pushing to the same branch); try again`, "conflict");
      theirs.merge(ws);
      ws.adopt(theirs);
    }
  }

  /** Commits `content` to branch `name` (created if absent), with `blobs` it references, and pushes. */
  commit(name: string, content: TribleSet, message: string, blobs: readonly Uint8Array[] = [], retries = DEFAULT_PUSH_RETRIES): Hash {
    this.requireKey();
    const ws = this.pull(this.ensureBranch(name).id);
    ws.putMany(blobs);
    const handle = ws.commit(content, message);
    this.push(ws, retries);
    return handle;
  }

  /** Merges branch `from` into branch `into` (fast-forward when possible) and pushes. */
  merge(into: string, from: string): { head: Hash | null; kind: MergeKind } {
    const source = this.requireBranch(from);
    const target = this.requireBranch(into);
    if (!source.meta.head) return { head: target.meta.head ?? null, kind: "up-to-date" };
    return this.mergeInto(target, source.meta.head);
  }

  /**
   * Brings commit `head` (e.g. a tracking branch's head) into local branch `name`, creating the
   * branch if needed; fast-forwards when possible, else makes a merge commit, and pushes.
   */
  integrate(name: string, head: Hash): { head: Hash; kind: MergeKind | "created" } {
    const existing = this.lookupBranch(name);
    const result = this.mergeInto(existing ?? this.createBranch(name), head);
    return { head: result.head!, kind: existing ? result.kind : "created" };
  }

  /** Merges commit `head` into branch `target` (no-op, fast-forward or merge commit) and pushes. */
  mergeInto(target: BranchInfo, head: Hash): { head: Hash | null; kind: MergeKind } {
    const ws = this.pull(target.id);
    const kind = ws.mergeCommit(head);
    if (kind !== "up-to-date") this.push(ws);
    return { head: ws.head, kind };
  }

  // ── History ─────────────────────────────────────────────────────────────────────────────────

  /** The commit's message, parents, author and content handle. */
  commitInfo(handle: Hash, reader: BlobReader = this.store.reader()): CommitInfo {
    return readCommit(reader, handle);
  }

  /** `start` and all its ancestors, breadth-first, each once. */
  ancestors(start: Hash): Generator<Hash> {
    return ancestors(this.store.reader(), start);
  }

  /** Whether commit `ancestor` is in the history of `descendant` (or is it). */
  isAncestor(ancestor: Hash, descendant: Hash): boolean {
    return isAncestor(this.store.reader(), ancestor, descendant);
  }

  /** The nearest commits both `a` and `b` descend from. */
  commonAncestors(a: Hash, b: Hash): Hash[] {
    return commonAncestors(this.store.reader(), a, b);
  }

  /** Union of the content of `head` and its ancestors, excluding `since` and its ancestors. */
  checkout(head: Hash, since?: Hash): TribleSet {
    return checkoutRange(this.store.reader(), head, since);
  }

  /**
   * Verifies a branch: its metadata signature over the head commit, then every authored commit of
   * its history. Returns the metadata signer and the verified commits; throws on the first failure.
   */
  verifyBranch(branch: BranchInfo): { signer: Uint8Array | null; headUnsigned: boolean; commits: VerifiedCommit[] } {
    if (!branch.meta.head) return { signer: null, headUnsigned: false, commits: [] };
    const reader = this.store.reader();
    const metaBytes = requireBlob(reader, branch.metaHandle, "branch metadata");
    const headBytes = requireBlob(reader, branch.meta.head, "head commit");
    // Metadata with a head and no signature at all (the reference's `branch_unsigned` writes it)
    // is read as the reference reads it; the commits below are still verified. A partial or bad
    // signature is an error, and the network never admits unsigned heads (tracking.ts).
    const headUnsigned = isUnsignedHead(metaBytes);
    const signer = headUnsigned ? null : verifyBranchMeta(metaBytes, headBytes);
    return { signer, headUnsigned, commits: verifyHistory(reader, branch.meta.head) };
  }

  // ── Helpers ─────────────────────────────────────────────────────────────────────────────────

  private requireKey(): SigningKey {
    if (!this.key) throw new RepoError("no signing key: commits and branch heads must be signed", "no-key");
    return this.key;
  }

  /** Head and key for signed metadata, or nothing for an empty branch. */
  private signedHead(head: Hash | undefined): { head?: { handle: Hash; bytes: Uint8Array }; key?: SigningKey } {
    if (!head) return {};
    return { head: { handle: head, bytes: requireBlob(this.store.reader(), head, "head commit") }, key: this.requireKey() };
  }

  /**
   * updated_at for the next metadata of a branch: now, but strictly after the previous value, so
   * peers (which drop updates that are not strictly newer, §7.4) never discard a real update even
   * when two pushes share a clock tick or the previous writer's clock ran ahead.
   */
  private nextUpdatedAt(previous: BranchMeta): bigint {
    const now = this.clock();
    const floor = previous.updatedAt ? previous.updatedAt.lower + 1n : now;
    return now > floor ? now : floor;
  }
}

/** A live branch whose metadata blob cannot be read. */
export interface UnreadableBranch {
  id: BranchId;
  metaHandle: Hash;
  /** `missing`: the blob is not in the store; `unreadable`: it is damaged or not branch metadata. */
  problem: "missing" | "unreadable";
  /** Why, in words (for `unreadable`, the decoding error). */
  reason: string;
}

/** Reads one branch's metadata and name; null when unreadable (see `inspectBranch`). */
function readBranch(reader: BlobReader, id: BranchId, metaHandle: Hash): BranchInfo | null {
  const info = inspectBranch(reader, id, metaHandle);
  return "problem" in info ? null : info;
}

/** Reads one branch's metadata and name, or says why it cannot. */
function inspectBranch(reader: BlobReader, id: BranchId, metaHandle: Hash): BranchInfo | UnreadableBranch {
  let meta: BranchMeta;
  try {
    meta = parseBranchMeta(requireBlob(reader, metaHandle, "branch metadata"));
  } catch (err) {
    const missing = err instanceof RepoError && err.code === "missing-blob";
    return { id, metaHandle, problem: missing ? "missing" : "unreadable", reason: (err as Error).message };
  }
  let name = "";
  try {
    const nameHandle = meta.tracking?.remoteName ?? meta.name;
    const nameBytes = nameHandle ? reader.get(nameHandle) : undefined;
    if (nameBytes) name = decodeLongString(nameBytes);
  } catch {
    // A name blob that is damaged or no LongString leaves the branch readable, without a name.
  }
  return { id, metaHandle, meta, name, tracking: meta.tracking !== undefined };
}

/**
 * Makes an empty named branch through branch metadata (for `tribles pile branch create`):
 * a fresh random id, unsigned metadata with the name and no head. Fails if the name is taken.
 */
export function createNamedBranch(store: Store, name: string, key?: SigningKey): BranchInfo {
  return new Repository(store, key).createBranch(name);
}
