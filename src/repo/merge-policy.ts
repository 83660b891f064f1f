/**
 * The merge policy of a sync: each remote head that lands in a tracking branch is merged into the
 * local branch of the same id and name (see remote-merge.ts), so an app reading its own branch sees
 * its peers' commits without merging by hand. `pile net sync` and a library `TeamSync` share it.
 */
import type { Hash } from "../core/store.ts";
import { HashIndex } from "../core/hash-index.ts";
import { mergeRemoteHead } from "./remote-merge.ts";
import type { Repository } from "./repository.ts";
import type { TrackingResult } from "./tracking.ts";
import type { MergeKind } from "./workspace.ts";

/** What merging one remote head did. */
export type MergeOutcome =
  /** The local branch `branch` (named `name`) now holds `head`: created, fast-forwarded or merged. */
  | { status: "merged"; name: string; branch: Uint8Array; head: Hash; kind: MergeKind | "created" }
  /** The remote head was not merged (for instance a local branch of that name has another id); both are kept. */
  | { status: "failed"; name: string; error: string };

/** Options of a {@link RemoteMergePolicy}. */
export interface MergePolicyOptions {
  /** Merge only remote branches with these names (default: every branch). */
  branches?: Iterable<string>;
}

/**
 * Decides, for each applied remote head, whether and where it merges, and merges it. One instance
 * per running sync: it remembers the tracking heads it has merged (or found merged), so a head
 * reported again as "unchanged" merges once, and a sync stopped between moving the tracking branch
 * and merging catches up on its next start.
 */
export class RemoteMergePolicy {
  private readonly wanted: Set<string> | undefined;
  private readonly integrated = new HashIndex(64);

  /** A policy merging into `repo`'s branches (its key signs merge commits). */
  constructor(
    private readonly repo: Repository,
    options: MergePolicyOptions = {},
  ) {
    const names = options.branches ? [...options.branches] : [];
    this.wanted = names.length ? new Set(names) : undefined;
  }

  /** Whether the remote branch `name` is one this policy cares about (reported and merged). */
  wants(name: string): boolean {
    return !this.wanted || this.wanted.has(name);
  }

  /**
   * Merges the head a tracking result names, when it is new to this policy; undefined when there is
   * nothing to do (rejected, stale, unwanted branch, empty or already merged head).
   */
  apply(result: TrackingResult): MergeOutcome | undefined {
    if (result.status === "rejected" || result.status === "stale") return undefined;
    if (!this.wants(result.name) || !result.head) return undefined;
    if (!this.integrated.insert(result.head).added) return undefined;
    try {
      const merged = mergeRemoteHead(this.repo, result.remoteBranch, result.name, result.head);
      return { status: "merged", name: result.name, branch: merged.branch, head: merged.head, kind: merged.kind };
    } catch (err) {
      return { status: "failed", name: result.name, error: (err as Error).message };
    }
  }
}
