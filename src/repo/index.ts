/**
 * The repository layer's public API in one place (FORMATS §7): what the network, auth and CLI
 * layers call. Each name lives in a short module of its own; this file only re-exports.
 */
export * from "./attributes.ts";
export { type BranchMeta, type BuiltMeta, buildBranchMeta, buildTrackingMeta, describeMetaBlob, isTrackingMeta, isUnsignedHead, parseBranchMeta, verifyBranchMeta } from "./branch-meta.ts";
export { type BuiltCommit, buildCommit, buildMergeCommit, type CommitInfo, parseCommit, verifyCommit } from "./commit.ts";
export { RepoError, type RepoErrorCode } from "./errors.ts";
export { applyChanges, commitFileChanges, type FileChange, type FileCommitResult } from "./file-commit.ts";
export { conflictName, type FileTree, isConflictCopy, type MergeConflict, mergeTrees, type TreeEntry, treeAt } from "./file-tree.ts";
export { type FileEntry, type FileRecord, filesInContent, filesToContent, type SnapshotFile, snapshotContent } from "./files.ts";
export { foldedPath, normalizeLocalPath, pathCollisions, pathProblem } from "./paths.ts";
export { ancestors, checkoutRange, commonAncestors, isAncestor, readCommit, type VerifiedCommit, verifyHistory, verifyOne } from "./history.ts";
export { KeyFileError, keyFileText, loadKey, parseKeyFile, resolveKeyPath } from "./keyfile.ts";
export { type BranchInfo, createNamedBranch, DEFAULT_PUSH_RETRIES, Repository, type RepositoryOptions, type UnreadableBranch } from "./repository.ts";
export { adoptTrackedBranch, localBranchFor, mergeRemoteHead } from "./remote-merge.ts";
export { SignatureError, verifyAnchoredSignature } from "./signature.ts";
export { applyRemoteHead, findTrackingBranch, isTrackingBranch, isTrackingBranchId, listTrackingBranches, type TrackingResult } from "./tracking.ts";
export { type MergeKind, Workspace } from "./workspace.ts";
