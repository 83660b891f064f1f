/**
 * Merging a remote branch's head into "the same" local branch. Branch ids are team-wide: a local
 * branch made from a remote one takes the remote's id, so one id names a branch on every member's
 * pile and a branch-scoped capability means the same branch everywhere.
 *
 * The local branch a remote head merges into is the one with the remote's id, and its name must be
 * the remote's name too. When the name belongs locally to a branch with another id (two members
 * created "main" independently), nothing is merged: both branches are kept (the remote one as the
 * tracking branch), and the error says which id is which so the user can choose (rename theirs,
 * or merge by id on purpose). Merging by name never silently crosses ids.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { BranchId, Hash } from "../core/store.ts";
import { RepoError } from "./errors.ts";
import type { BranchInfo, Repository } from "./repository.ts";
import type { MergeKind } from "./workspace.ts";

/** Which local branch the remote branch (id, name) merges into: an existing one, or "create". */
export function localBranchFor(repo: Repository, remoteBranch: BranchId, name: string): BranchInfo | "create" {
  const same = repo.branchById(remoteBranch);
  if (same) {
    if (same.tracking) throw new RepoError(`remote branch ${toHex(remoteBranch)} ("${name}") has the id of a local tracking branch; not merged`, "branch-mismatch");
    if (same.name !== name) {
      throw new RepoError(
        `remote branch ${toHex(remoteBranch)} is named "${name}" but the local branch with that id is named "${same.name}"; not merged (rename one of them so the names agree)`,
        "branch-mismatch",
      );
    }
    return same;
  }
  const byName = repo.lookupBranch(name);
  if (byName) {
    const tracking = repo.listBranches().find((b) => b.tracking && bytesEqual(b.meta.tracking!.remoteBranch, remoteBranch));
    const from = tracking ? toHex(tracking.id) : "TRACKING-ID";
    throw new RepoError(
      `local branch "${name}" is ${toHex(byName.id)}, the remote's "${name}" is another branch (${toHex(remoteBranch)}); not merged, both are kept. ` +
        `To work on the remote's, rename yours (\`tribles pile branch rename PILE ${name} ${name}-mine\`) and merge again; to bring its commits into yours, merge its tracking branch by id (\`tribles pile merge PILE --into ${name} --from ${from}\`)`,
      "branch-mismatch",
    );
  }
  return "create";
}

/**
 * Brings commit `head` of remote branch (`remoteBranch`, `name`) into the local branch with the
 * same id and name (see `localBranchFor`), creating it under the remote's id when there is none.
 */
export function mergeRemoteHead(repo: Repository, remoteBranch: BranchId, name: string, head: Hash): { head: Hash; kind: MergeKind | "created"; branch: BranchId } {
  let target = localBranchFor(repo, remoteBranch, name);
  if (target === "create") {
    try {
      const created = repo.createBranch(name, head, remoteBranch);
      return { head, kind: "created", branch: created.id };
    } catch (err) {
      // Another process sharing the pile (a sync, a commit adopting the same tracking branch)
      // created it between our look and our create: merge into what it made, by the same rules.
      if (!(err instanceof RepoError) || err.code !== "branch-exists") throw err;
      target = localBranchFor(repo, remoteBranch, name);
      if (target === "create") throw err;
    }
  }
  const result = repo.mergeInto(target, head);
  return { head: result.head!, kind: result.kind, branch: target.id };
}

/**
 * Before a commit to `name` creates a new branch: when there is no local branch of that name but
 * tracking branches of it exist (after a pull), the local branch is made from them instead (the
 * remote's id, their heads merged in), so the commit lands on the team's branch rather than on a
 * new one under a fresh id. Tracking branches of that name with different ids (branches created
 * independently) are not guessed between: that is a "branch-mismatch" error. Null when there is
 * nothing to adopt.
 */
export function adoptTrackedBranch(repo: Repository, name: string): BranchInfo | null {
  if (repo.lookupBranch(name)) return null;
  const tracked = repo.listBranches().filter((b) => b.tracking && b.name === name && b.meta.head);
  if (tracked.length === 0) return null;
  const ids = new Map(tracked.map((b) => [toHex(b.meta.tracking!.remoteBranch), b]));
  if (ids.size > 1) {
    const choices = [...ids.values()].map((b) => `${toHex(b.meta.tracking!.remoteBranch)} (tracking branch ${toHex(b.id)})`).join(", ");
    throw new RepoError(`peers have ${ids.size} different branches named "${name}": ${choices}; adopt one first with \`tribles pile merge PILE --into ${name} --from TRACKING-ID\``, "branch-mismatch");
  }
  const remoteBranch = tracked[0]!.meta.tracking!.remoteBranch;
  for (const b of tracked) mergeRemoteHead(repo, remoteBranch, name, b.meta.head!);
  return repo.requireBranch(name);
}
