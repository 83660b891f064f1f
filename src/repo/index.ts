/**
 * `tribles/repo`: signed commits on named branches over any store. A {@link Repository} commits
 * facts and reads them back; a {@link Workspace} stages changes against a branch head; the merge
 * helpers fold a synced remote head into a local branch.
 *
 * @module tribles/repo
 */

export { RepoError, type RepoErrorCode } from "./errors.ts";
export { type KeyLookup, loadKey } from "./keyfile.ts";
export { type MergeOutcome, type MergePolicyOptions, RemoteMergePolicy } from "./merge-policy.ts";
export { adoptTrackedBranch, mergeRemoteHead } from "./remote-merge.ts";
export { type BranchInfo, Repository, type RepositoryOptions } from "./repository.ts";
export type { TrackingResult } from "./tracking.ts";
export { type MergeKind, Workspace } from "./workspace.ts";
