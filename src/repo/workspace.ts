/**
 * A workspace is a checked-out branch: the branch-metadata handle it started from (the base of
 * the compare-and-swap), a head commit that moves as you commit and merge, and blobs staged in
 * memory until the push uploads them. `Repository.pull` makes one; `Repository.push` publishes it.
 */
import { hash } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { BlobReader, BranchId, Hash, Store } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import type { BlobGetter } from "./archive-read.ts";
import { buildCommit, buildMergeCommit } from "./commit.ts";
import { RepoError } from "./errors.ts";
import { ancestry, checkoutRange } from "./history.ts";

/** How a merge moved the head: not at all, straight to the other head, or through a merge commit. */
export type MergeKind = "up-to-date" | "fast-forward" | "merge";

export interface WorkspaceCommitOptions {
  /** created_at in TAI ns (defaults to the repository clock). */
  timestampNs?: bigint;
  /** Commit-metadata set (defaults to the repository's, normally empty). */
  metadata?: TribleSet;
}

/** A branch checked out for writing: stage blobs, commit facts, then push it through the repository. */
export class Workspace implements BlobGetter {
  /** The workspace's current head commit. */
  head: Hash | null;
  private staged = new Map<string, Uint8Array>();
  private snapshot: BlobReader;

  /** Made by `Repository.pull`; not meant to be built directly. */
  constructor(
    private readonly store: Store,
    readonly branchId: BranchId,
    /** Handle of the branch-metadata blob this workspace was pulled at (the CAS base). */
    public baseMeta: Hash,
    /** Head commit at `baseMeta` (null for an empty branch). */
    public baseHead: Hash | null,
    private readonly key: SigningKey | undefined,
    private readonly clock: () => bigint,
    private readonly defaultMetadata: TribleSet | undefined,
  ) {
    this.snapshot = store.reader();
    this.head = baseHead;
  }

  /** Stages a blob (uploaded on push) and returns its handle. */
  put(bytes: Uint8Array): Hash {
    const h = hash(bytes);
    this.staged.set(toHex(h), bytes);
    return h;
  }

  /** Stages blobs (uploaded on push) and returns their handles. */
  putMany(blobs: readonly Uint8Array[]): Hash[] {
    return blobs.map((b) => this.put(b));
  }

  /** A blob from the staging area or, failing that, the store. */
  get(h: Hash): Uint8Array | undefined {
    return this.staged.get(toHex(h)) ?? this.snapshot.get(h) ?? this.refreshed().get(h);
  }

  /** Staged blobs, not yet in the store. */
  stagedBlobs(): Uint8Array[] {
    return [...this.staged.values()];
  }

  /** Records a signed commit of `content` on top of the current head and returns its handle. */
  commit(content: TribleSet, message: string, opts: WorkspaceCommitOptions = {}): Hash {
    if (!this.key) throw new RepoError("no signing key: a commit must be signed", "no-key");
    const metadata = opts.metadata ?? this.defaultMetadata;
    const built = buildCommit({
      key: this.key,
      content,
      parents: this.head ? [this.head] : [],
      message,
      timestampNs: opts.timestampNs ?? this.clock(),
      ...(metadata ? { metadata } : {}),
    });
    this.putMany(built.blobs);
    this.head = built.handle;
    return built.handle;
  }

  /**
   * Brings commit `other` into this workspace (FORMATS §7.4): no head or behind ⇒ fast-forward;
   * equal or already contained ⇒ no change; otherwise a content-addressed merge commit.
   * Ancestry checks tolerate missing history (they fall back to a merge commit, always correct).
   */
  mergeCommit(other: Hash): MergeKind {
    const ours = this.head;
    if (ours === null) {
      this.head = other;
      return "fast-forward";
    }
    const relation = ancestry(this, ours, other);
    if (relation === "same" || relation === "b-in-a") return "up-to-date";
    if (relation === "a-in-b") {
      this.head = other;
      return "fast-forward";
    }
    const merge = buildMergeCommit([ours, other]);
    this.putMany(merge.blobs);
    this.head = merge.handle;
    return "merge";
  }

  /** Merges another workspace: takes its staged blobs, then its head (see mergeCommit). */
  merge(other: Workspace): MergeKind {
    for (const [k, v] of other.staged) this.staged.set(k, v);
    return other.head ? this.mergeCommit(other.head) : "up-to-date";
  }

  /** The facts of the head and its ancestors (only those after `since`, if given). */
  checkout(since?: Hash): TribleSet {
    if (!this.head) throw new RepoError("the branch has no commits to check out", "unknown-branch");
    return checkoutRange(this, this.head, since);
  }

  /** Takes over the state of `other` (used after a push conflict was merged into `other`). */
  adopt(other: Workspace): void {
    this.baseMeta = other.baseMeta;
    this.baseHead = other.baseHead;
    this.head = other.head;
    this.staged = other.staged;
    this.snapshot = other.snapshot;
  }

  /** After a successful push: the pushed state is the new base and nothing is staged. */
  markPushed(meta: Hash): void {
    this.baseMeta = meta;
    this.baseHead = this.head;
    this.staged = new Map();
    this.snapshot = this.store.reader();
  }

  /** True when there is a head change to publish. */
  get changed(): boolean {
    if (this.head === null || this.baseHead === null) return this.head !== this.baseHead;
    return !bytesEqual(this.head, this.baseHead);
  }

  private refreshed(): BlobReader {
    // A blob not in our snapshot may have arrived since (another process, a fetch).
    const fresh = this.store.reader();
    if (fresh.len !== this.snapshot.len) this.snapshot = fresh;
    return this.snapshot;
  }
}
