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
  | "branch-mismatch"
  | "nothing-to-commit";

/** An error of the repository layer; `code` says which kind, the message names the branch or blob. */
export class RepoError extends Error {
  /** An error with a message for a person and a `code` for a program. */
  constructor(
    message: string,
    readonly code: RepoErrorCode,
  ) {
    super(message);
    this.name = "RepoError";
  }
}
