/**
 * Committing changes to a branch's file tree: puts (add or replace), removes and moves, applied to
 * the tree at the branch head and recorded as one signed snapshot commit (files.ts). A change set
 * that leaves the tree as it was is refused ("nothing-to-commit"), as is a path that could not be
 * written back out on another peer (paths.ts).
 */
import { bytesEqual } from "../core/bytes.ts";
import type { BlobStorePut, Hash } from "../core/store.ts";
import { RepoError } from "./errors.ts";
import { type OnBytes, storeBytes, storeFile } from "./file-content.ts";
import { type FileTree, treeAt } from "./file-tree.ts";
import { type SnapshotFile, snapshotContent } from "./files.ts";
import { pathCollisions, pathProblem } from "./paths.ts";
import type { Repository } from "./repository.ts";

export type FileChange =
  | { kind: "put"; path: string; bytes: Uint8Array }
  /** A file on disk, read and stored one chunk at a time (for files of any size). */
  | { kind: "putFile"; path: string; file: string }
  /** Removes a file, or every file under a directory path. */
  | { kind: "remove"; path: string }
  /** Moves a file, or every file under a directory path, to a new path. */
  | { kind: "move"; from: string; to: string };

export interface FileCommitResult {
  commit: Hash;
  /** Paths added or replaced, removed (moves appear as a remove and an add). */
  added: string[];
  removed: string[];
}

/**
 * Applies `changes` to `tree` (paths → files), storing new content in `store` as it goes (a large
 * file chunk by chunk); throws a RepoError naming a change that cannot apply. Content stored for
 * a change set that then fails stays in the store, unreferenced (harmless, and reused next time).
 */
export function applyChanges(tree: Map<string, SnapshotFile>, changes: readonly FileChange[], store: BlobStorePut, onBytes?: OnBytes): void {
  const under = (dir: string) => [...tree.keys()].filter((p) => p === dir || p.startsWith(`${dir}/`));
  for (const change of changes) {
    if (change.kind === "put" || change.kind === "putFile") {
      checkPath(change.path);
      const stored = change.kind === "put" ? storeBytes(store, change.bytes) : storeFile(store, change.file, onBytes);
      tree.set(change.path, { path: change.path, ...stored });
    } else if (change.kind === "remove") {
      const gone = under(change.path);
      if (!gone.length) throw new RepoError(`${change.path}: no such file or directory on the branch`, "nothing-to-commit");
      for (const p of gone) tree.delete(p);
    } else {
      const moving = under(change.from);
      if (!moving.length) throw new RepoError(`${change.from}: no such file or directory on the branch`, "nothing-to-commit");
      const moved = moving.map((p) => [p, change.to + p.slice(change.from.length)] as const);
      for (const [, to] of moved) {
        checkPath(to);
        if (tree.has(to) && !moving.includes(to)) throw new RepoError(`${to} already exists on the branch; remove it first`, "branch-exists");
      }
      const entries = moved.map(([from, to]) => ({ ...tree.get(from)!, path: to }));
      for (const [from] of moved) tree.delete(from);
      for (const e of entries) tree.set(e.path, e);
    }
  }
  const collisions = pathCollisions(tree.keys());
  if (collisions.length) throw new RepoError(`these paths would collide on a case-insensitive file system, or are both a file and a directory: ${collisions.map((g) => g.join(" / ")).join("; ")}`, "bad-blob");
}

function checkPath(path: string): void {
  const problem = pathProblem(path);
  if (problem) throw new RepoError(`${JSON.stringify(path)} cannot be recorded: ${problem}`, "bad-blob");
}

/** The tree at a branch's head as path → file (empty for an empty branch). */
export function snapshotOf(tree: FileTree | null): Map<string, SnapshotFile> {
  return new Map((tree?.files ?? []).map((f) => [f.path, { path: f.path, content: f.content, size: f.size, ...(f.chunks ? { chunks: f.chunks } : {}) }]));
}

/** Commits `changes` to branch `name` (created if missing) on top of its head, and pushes; `onBytes` is told each piece of file content stored. */
export function commitFileChanges(repo: Repository, name: string, changes: readonly FileChange[], message: string, opts: { onBytes?: OnBytes } = {}): FileCommitResult {
  const ws = repo.pull(repo.ensureBranch(name).id);
  const before = snapshotOf(ws.head ? treeAt(ws, ws.head) : null);
  const after = new Map(before);
  applyChanges(after, changes, repo.store, opts.onBytes);
  const added = [...after.values()].filter((f) => !sameFile(before.get(f.path), f)).map((f) => f.path);
  const removed = [...before.keys()].filter((p) => !after.has(p));
  if (!added.length && !removed.length) throw new RepoError(`nothing to commit: the files on "${name}" are already these`, "nothing-to-commit");
  const files = [...after.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const { content, blobs: pathBlobs } = snapshotContent(files);
  ws.putMany(pathBlobs);
  const commit = ws.commit(content, message);
  repo.push(ws);
  return { commit, added: added.sort(), removed: removed.sort() };
}

function sameFile(a: SnapshotFile | undefined, b: SnapshotFile): boolean {
  return a !== undefined && bytesEqual(a.content, b.content) && a.size === b.size;
}
