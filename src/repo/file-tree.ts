/**
 * The file tree of a commit (schema in files.ts): a snapshot commit's tree is its files; a
 * first-schema commit adds its files to its parents' tree; a merge commit (parents only, no
 * content) gets the three-way merge of its parents' trees against their common ancestor. Each
 * peer computes the same tree for the same merge commit, so conflict copies appear on every peer.
 *
 * Three-way merge, per path (base B, the two sides X and Y; content compared by hash):
 * - X = Y: taken (the same edit on both sides is no conflict); X = B: Y taken; Y = B: X taken.
 * - both changed differently: an edit wins over a delete; two edits (or two adds) keep the
 *   version changed last (commit time, then commit hash) at the path and the other at
 *   `NAME.sync-conflict-YYYYMMDD-HHMMSS-AUTHOR.EXT` (Syncthing's convention; the date and author
 *   of the commit that made the other version).
 * Every entry remembers the commit that last changed it, which gives the "changed last" order.
 */
import { bytesEqual, compareBytes, toHex } from "../core/bytes.ts";
import { decodeLongString } from "../core/longstring.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import type { Hash } from "../core/store.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { type BlobGetter, decodeArchive, requireBlob } from "./archive-read.ts";
import { filesInContent, snapshotCount } from "./files.ts";
import { commonAncestors, readCommit } from "./history.ts";
import { pathCollisions, pathProblem } from "./paths.ts";

/** One file of a tree. */
export interface TreeEntry {
  path: string;
  content: Hash;
  size: bigint;
  /** The chunk list of a large file (files.ts). */
  chunks?: Hash;
  /** The commit that last changed this path (for a conflict copy: the commit of the copied version). */
  commit: Hash;
  /** That commit's time (TAI ns) and author, when it has them. */
  createdAt?: bigint;
  author?: Uint8Array;
}

/** A path both sides of a merge changed: `kept` stays at the path, `copy` is the other version under a conflict name. */
export interface MergeConflict {
  path: string;
  kept: TreeEntry;
  copy: TreeEntry;
}

export interface FileTree {
  /** The files, sorted by path. */
  files: TreeEntry[];
  /** Conflicts settled by the head itself, when it is a merge commit. */
  conflicts: MergeConflict[];
  /** Paths that must not be written to disk (from a peer): path → why. */
  unsafe: Map<string, string>;
  /** Groups of paths one file system would merge (case) or that are both a file and a directory. */
  collisions: string[][];
  /** Commits whose content is missing or malformed; their files are not in the tree. */
  unreadableCommits: Hash[];
  /** File records whose path blob is missing or not UTF-8. */
  unreadableNames: number;
}

type Tree = Map<string, TreeEntry>;
const utf8 = new TextEncoder();

/** Whether a path is a conflict copy (made here or by Syncthing). */
export function isConflictCopy(path: string): boolean {
  return /\.sync-conflict-\d{8}-\d{6}-[0-9A-Za-z]+(\.[^/]*)?$/.test(path);
}

/** `a/notes.md` → `a/notes.sync-conflict-20261202-063000-EA4A6C6.md`. */
export function conflictName(path: string, createdAt: bigint | undefined, author: Uint8Array | undefined): string {
  const date = new Date(createdAt !== undefined ? unixMsFromTaiNs(createdAt) : 0).toISOString();
  const stamp = `${date.slice(0, 10).replaceAll("-", "")}-${date.slice(11, 19).replaceAll(":", "")}`;
  const who = author ? toHex(author).slice(0, 7).toUpperCase() : "UNKNOWN";
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  const cut = dot > slash + 1 ? dot : path.length;
  const [dir, ext, marker] = [path.slice(0, slash + 1), path.slice(cut), `.sync-conflict-${stamp}-${who}`];
  // The name must stay a writable segment (≤ 255 bytes): a long stem is shortened, never the marker.
  let stem = path.slice(slash + 1, cut);
  while (stem.length > 1 && utf8.encode(stem + marker + ext).length > 255) stem = [...stem].slice(0, -1).join("");
  return `${dir}${stem}${marker}${ext}`;
}

/** The file tree at commit `head`. Missing or unreadable history counts as empty (and is reported). */
export function treeAt(blobs: BlobGetter, head: Hash): FileTree {
  const builder = new TreeBuilder(blobs);
  const tree = builder.tree(head);
  const files = [...tree.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const unsafe = new Map<string, string>();
  for (const f of files) {
    const problem = pathProblem(f.path);
    if (problem) unsafe.set(f.path, problem);
  }
  return {
    files,
    conflicts: builder.conflictsOf(head),
    unsafe,
    collisions: pathCollisions(files.map((f) => f.path)),
    unreadableCommits: builder.unreadable,
    unreadableNames: builder.unreadableNames,
  };
}

/** Computes and caches the tree of every commit it is asked for (and of their ancestors). */
class TreeBuilder {
  private readonly trees = new Map<string, Tree>();
  private readonly conflicts = new Map<string, MergeConflict[]>();
  private readonly paths = new Map<string, string | null>();
  readonly unreadable: Hash[] = [];
  unreadableNames = 0;

  constructor(private readonly blobs: BlobGetter) {}

  conflictsOf(h: Hash): MergeConflict[] {
    return this.conflicts.get(toHex(h)) ?? [];
  }

  /** The tree at `head`, computing parents first (an explicit stack: histories can be long). */
  tree(head: Hash): Tree {
    const stack: Hash[] = [head];
    while (stack.length) {
      const h = stack[stack.length - 1]!;
      const key = toHex(h);
      if (this.trees.has(key)) {
        stack.pop();
        continue;
      }
      let parents: readonly Hash[];
      try {
        parents = readCommit(this.blobs, h).parents;
      } catch {
        // A commit not in this store (history fetched only in part) ends its line.
        this.trees.set(key, new Map());
        this.unreadable.push(h);
        stack.pop();
        continue;
      }
      const pending = parents.filter((p) => !this.trees.has(toHex(p)));
      if (pending.length) {
        for (const p of pending) stack.push(p); // a spread would overflow the stack on a huge parent list
        continue;
      }
      stack.pop();
      this.trees.set(key, this.compute(h));
    }
    return this.trees.get(toHex(head))!;
  }

  private compute(h: Hash): Tree {
    const info = readCommit(this.blobs, h);
    const parents = [...info.parents].sort(compareBytes);
    const merged = parents.length > 1 ? this.mergeParents(h, parents) : parents.length === 1 ? this.trees.get(toHex(parents[0]!))! : new Map();
    if (!info.content) return merged;
    let content: TribleSet;
    try {
      content = decodeArchive(requireBlob(this.blobs, info.content, "commit content"), "commit content");
    } catch {
      this.unreadable.push(h);
      return merged;
    }
    const here = { commit: h, ...(info.createdAt !== undefined ? { createdAt: info.createdAt } : {}), ...(info.author ? { author: info.author } : {}) };
    const count = snapshotCount(content);
    const records = filesInContent(content);
    const out: Tree = count === null ? new Map(merged) : new Map();
    if (count !== null && count !== BigInt(records.length)) {
      // A snapshot whose count does not match its files is damaged or forged: read as no change.
      this.unreadable.push(h);
      return merged;
    }
    for (const record of records) {
      const path = this.path(record.nameHandle);
      if (path === null) {
        this.unreadableNames++;
        continue;
      }
      const other = out.get(path);
      // Two versions of one path in one commit (only a hostile writer makes them): the larger hash, on every peer.
      if (other && bytesEqual(other.commit, h) && compareBytes(other.content, record.contentHandle) > 0) continue;
      const before = merged.get(path);
      const unchanged = before && bytesEqual(before.content, record.contentHandle) && before.size === record.size;
      out.set(path, unchanged ? before : { path, content: record.contentHandle, size: record.size, ...(record.chunks ? { chunks: record.chunks } : {}), ...here });
    }
    return out;
  }

  private mergeParents(h: Hash, parents: Hash[]): Tree {
    let acc = this.trees.get(toHex(parents[0]!))!;
    const conflicts: MergeConflict[] = [];
    for (const other of parents.slice(1)) {
      const base = this.baseTree(parents[0]!, other);
      acc = mergeTrees(base, acc, this.trees.get(toHex(other))!, conflicts);
    }
    if (conflicts.length) this.conflicts.set(toHex(h), conflicts);
    return acc;
  }

  /** The tree of the two heads' common ancestor; several (criss-cross) ⇒ per path the entry changed last. */
  private baseTree(a: Hash, b: Hash): Tree {
    let bases: Hash[];
    try {
      bases = commonAncestors(this.blobs, a, b);
    } catch {
      bases = []; // history fetched only in part: no known base, every difference is a change
    }
    if (bases.length === 1) return this.tree(bases[0]!);
    const out: Tree = new Map();
    for (const base of bases) {
      for (const entry of this.tree(base).values()) {
        const known = out.get(entry.path);
        if (!known || changedLater(entry, known)) out.set(entry.path, entry);
      }
    }
    return out;
  }

  private path(handle: Hash): string | null {
    const key = toHex(handle);
    if (!this.paths.has(key)) {
      let path: string | null = null;
      try {
        const bytes = this.blobs.get(handle);
        if (bytes) path = decodeLongString(bytes);
      } catch {
        path = null;
      }
      this.paths.set(key, path);
    }
    return this.paths.get(key)!;
  }
}

/** The three-way merge described at the top; symmetric in `x` and `y`. */
export function mergeTrees(base: Tree, x: Tree, y: Tree, conflicts: MergeConflict[] = []): Tree {
  const out: Tree = new Map();
  const paths = new Set([...x.keys(), ...y.keys()]);
  for (const b of base.keys()) paths.add(b);
  const copies: TreeEntry[] = [];
  for (const path of [...paths].sort()) {
    const [b, ex, ey] = [base.get(path), x.get(path), y.get(path)];
    let chosen: TreeEntry | undefined;
    if (same(ex, ey)) chosen = ex && ey && changedLater(ey, ex) ? ey : ex;
    else if (same(ex, b)) chosen = ey;
    else if (same(ey, b)) chosen = ex;
    else if (!ex || !ey) chosen = ex ?? ey; // an edit wins over a delete
    else {
      const [kept, lost] = changedLater(ex, ey) ? [ex, ey] : [ey, ex];
      chosen = kept;
      const copy = { ...lost, path: conflictName(path, lost.createdAt, lost.author) };
      copies.push(copy);
      conflicts.push({ path, kept, copy });
    }
    if (chosen) out.set(path, chosen);
  }
  for (const copy of copies) {
    let path = copy.path;
    for (let n = 2; out.has(path) && !bytesEqual(out.get(path)!.content, copy.content); n++) path = `${copy.path}.${n}`;
    if (path !== copy.path) {
      const moved = { ...copy, path };
      const c = conflicts.find((k) => k.copy === copy);
      if (c) c.copy = moved;
      out.set(path, moved);
    } else out.set(path, copy);
  }
  return out;
}

function same(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (!a || !b) return a === b;
  return bytesEqual(a.content, b.content) && a.size === b.size;
}

/** Newer commit time wins; equal times (or none) fall back to the larger commit hash, so every peer agrees. */
function changedLater(a: TreeEntry, b: TreeEntry): boolean {
  const [ta, tb] = [a.createdAt ?? -1n, b.createdAt ?? -1n];
  if (ta !== tb) return ta > tb;
  return compareBytes(a.commit, b.commit) > 0;
}
