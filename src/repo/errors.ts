/**
 * One error type for the repository layer. `code` lets callers (CLI, network) react without
 * matching message text; the message is written for a person and names the branch or blob.
 */
export type RepoErrorCode =
  | "unknown-branch"
  | "branch-exists"
  | "ambiguous-branch"
  | "missing-blob"
  | "bad-blob"
  | "no-key"
  | "conflict"
  | "not-pushable"
  /** A remote branch and the local branch it would merge into are different branches (ids or names disagree). */
  | "branch-mismatch";

export class RepoError extends Error {
  constructor(
    message: string,
    readonly code: RepoErrorCode,
  ) {
    super(message);
    this.name = "RepoError";
  }
}
