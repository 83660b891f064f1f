/**
 * A working folder: files checked out from a branch, with a record beside them
 * (`.tribles-checkout.json`) of the pile, branch and commit written and, per path, the version
 * the local file was based on. With it a later checkout tells a file unchanged since its checkout
 * (updated) from a local edit (kept), `folderStatus` shows both sides' changes, and
 * `folderChanges` turns local edits into a commit without overwriting what others changed since.
 *
 * A checkout is planned first (every check: paths, collisions, blobs present, nothing in the way)
 * and applied only when the plan has no problem, so a failing checkout writes nothing.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { bytesEqual, fromHex, toHex } from "../core/bytes.ts";
import type { Hash } from "../core/store.ts";
import type { BlobGetter } from "./archive-read.ts";
import type { FileChange } from "./file-commit.ts";
import { hashFile, type OnBytes, storedProblem, writeStored } from "./file-content.ts";
import { conflictName, type FileTree, type TreeEntry } from "./file-tree.ts";
import { IgnoreRules } from "./ignore.ts";
import { normalizeLocalPath, pathProblem } from "./paths.ts";

export const RECORD_FILE = ".tribles-checkout.json";
export const IGNORE_FILE = ".triblesignore";
const RECORD_FORMAT = "tribles-checkout/1";

/** A version of a file: its content hash and size. */
export interface FileVersion {
  content: Hash;
  size: bigint;
}

export interface CheckoutRecord {
  /** Absolute path of the pile checked out from. */
  pile: string;
  branch: string;
  /** The branch head written by the last full checkout (null: none yet). */
  commit: Hash | null;
  /** Per path, the version its local file was based on. */
  files: Map<string, FileVersion>;
}

// ── Walking a folder ───────────────────────────────────────────────────────────────────────────

export interface FolderFiles {
  /** Regular files by folder-relative path. */
  files: Map<string, string>;
  /** Entries left out, with why (symbolic links, special files, names that cannot be recorded). */
  skipped: { path: string; reason: string }[];
}

/**
 * The regular files under `root`, by '/'-separated relative path, leaving out what the root's
 * `.triblesignore` names, the checkout record and temporary files of an interrupted checkout.
 */
export function walkFolder(root: string): FolderFiles {
  const ignore = readIgnore(root);
  const files = new Map<string, string>();
  const skipped: FolderFiles["skipped"] = [];
  const pending: string[] = [""];
  while (pending.length) {
    const rel = pending.pop()!;
    const abs = rel ? join(root, rel) : root;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      // The record of a folder checked out inside this one is no file of it either.
      if (entry.name === RECORD_FILE || /\.tribles-\d+\.tmp$/.test(entry.name)) continue;
      if (ignore.ignores(path, entry.isDirectory())) continue;
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isSymbolicLink()) skipped.push({ path, reason: "a symbolic link (not followed)" });
      else if (!entry.isFile()) skipped.push({ path, reason: "not a regular file" });
      else {
        const problem = pathProblem(path);
        if (problem) skipped.push({ path, reason: `cannot be recorded: ${problem}` });
        else files.set(path, join(root, path));
      }
    }
  }
  return { files, skipped };
}

function readIgnore(root: string): IgnoreRules {
  try {
    return IgnoreRules.parse(readFileSync(join(root, IGNORE_FILE), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return IgnoreRules.none();
    throw err;
  }
}

/** The version of a file on disk, or null when there is none. */
export function localVersion(abs: string): FileVersion | null {
  const st = lstatOrNull(abs);
  if (!st?.isFile()) return null;
  return hashFile(abs);
}

// ── The record ─────────────────────────────────────────────────────────────────────────────────

/** The folder's checkout record, or null when it has none; a damaged one is an error naming the file. */
export function readRecord(dir: string): CheckoutRecord | null {
  const file = join(dir, RECORD_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const bad = (why: string) => new Error(`${file}: ${why}; remove it to start over (local files are then treated as edits)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  const r = json as Record<string, unknown>;
  if (!r || r.format !== RECORD_FORMAT) throw bad(`not a ${RECORD_FORMAT} record`);
  if (typeof r.pile !== "string" || typeof r.branch !== "string") throw bad("no pile or branch");
  const hex = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
  if (r.commit !== null && !hex(r.commit)) throw bad("a bad commit hash");
  const files = new Map<string, FileVersion>();
  if (typeof r.files !== "object" || r.files === null) throw bad("no files");
  for (const [path, v] of Object.entries(r.files as Record<string, { content?: unknown; size?: unknown }>)) {
    if (pathProblem(path) || !hex(v?.content) || typeof v.size !== "string" || !/^\d{1,20}$/.test(v.size)) throw bad(`a bad entry for ${JSON.stringify(path)}`);
    files.set(path, { content: fromHex(v.content as string, 32), size: BigInt(v.size) });
  }
  return { pile: r.pile, branch: r.branch, commit: r.commit === null ? null : fromHex(r.commit as string, 32), files };
}

/** Writes the record (beside a temporary file, renamed over the old one). */
export function writeRecord(dir: string, record: CheckoutRecord): void {
  const files: Record<string, { content: string; size: string }> = {};
  for (const [path, v] of [...record.files].sort(([a], [b]) => (a < b ? -1 : 1))) files[path] = { content: toHex(v.content), size: String(v.size) };
  const body = { format: RECORD_FORMAT, pile: record.pile, branch: record.branch, commit: record.commit ? toHex(record.commit) : null, files };
  const file = join(dir, RECORD_FILE);
  const temp = `${file}.tribles-${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(temp, file);
}

// ── Checkout ───────────────────────────────────────────────────────────────────────────────────

export interface KeptFile {
  path: string;
  /** edited: changed here since checkout; deleted: deleted here; untracked: a file here the folder never checked out. */
  why: "edited" | "deleted" | "untracked";
}

export interface CheckoutPlan {
  write: TreeEntry[];
  remove: string[];
  unchanged: string[];
  /** Local changes kept although the branch has another version (pass `force` to replace them). */
  kept: KeptFile[];
  /** Why the checkout cannot run; non-empty ⇒ `applyCheckout` refuses. */
  problems: string[];
  /** The record to write once applied. */
  record: CheckoutRecord;
}

export interface CheckoutOptions {
  pile: string;
  branch: string;
  head: Hash | null;
  /** Only these paths (files, or directories: everything under them); all when absent. */
  only?: readonly string[];
  /** Replace local changes too. */
  force?: boolean;
}

/**
 * Plans writing `tree` into `dir`: per path, the local file (L), the version it was checked out
 * at (B, from the record) and the branch's (T). L = T: unchanged. L = B: updated to T (written,
 * or removed when T is gone). Otherwise a local change: kept (reported when T differs from B),
 * or replaced with `force`.
 */
export function planCheckout(dir: string, tree: FileTree, blobs: BlobGetter, previous: CheckoutRecord | null, opts: CheckoutOptions): CheckoutPlan {
  const selected = (p: string) => !opts.only || opts.only.some((o) => p === o || p.startsWith(`${o}/`));
  const byPath = new Map(tree.files.map((f) => [f.path, f]));
  const base = previous && previous.branch === opts.branch ? previous.files : new Map<string, FileVersion>();
  const record: CheckoutRecord = { pile: opts.pile, branch: opts.branch, commit: opts.only ? (previous?.commit ?? null) : opts.head, files: new Map(base) };
  const plan: CheckoutPlan = { write: [], remove: [], unchanged: [], kept: [], problems: [], record };
  for (const o of opts.only ?? []) if (![...byPath.keys()].some((p) => p === o || p.startsWith(`${o}/`))) plan.problems.push(`${o}: no such file or directory on ${opts.branch} (see \`tribles pile files\`)`);
  const paths = [...new Set([...byPath.keys(), ...base.keys()])].filter(selected).sort();
  for (const path of paths) {
    const t = byPath.get(path);
    const b = base.get(path) ?? null;
    const unsafe = pathProblem(path);
    if (unsafe) {
      if (t) plan.problems.push(`${JSON.stringify(path)}: not written: ${unsafe}`);
      continue;
    }
    const local = localVersion(join(dir, path));
    if (t && local && sameVersion(local, t)) {
      plan.unchanged.push(path);
      record.files.set(path, t);
    } else if (sameVersion(local, b) || opts.force) {
      if (t) {
        plan.write.push(t);
        record.files.set(path, t);
      } else {
        if (local) plan.remove.push(path);
        record.files.delete(path);
      }
    } else if (!sameVersion(t ?? null, b)) {
      plan.kept.push({ path, why: !local ? "deleted" : b ? "edited" : "untracked" });
    }
  }
  checkWrites(dir, tree, blobs, plan);
  return plan;
}

/** Every check a write needs, before any write: safe and unique paths, blobs present and whole, nothing in the way. */
function checkWrites(dir: string, tree: FileTree, blobs: BlobGetter, plan: CheckoutPlan): void {
  const writing = new Set(plan.write.map((f) => f.path));
  const removing = new Set(plan.remove);
  for (const group of tree.collisions) {
    if (group.some((p) => writing.has(p))) plan.problems.push(`${group.map((p) => JSON.stringify(p)).join(" and ")} would be one file on a case-insensitive file system, or are both a file and a directory; check them out one at a time with --out to different folders`);
  }
  const dirLstat = lstatOrNull(dir);
  if (dirLstat && !dirLstat.isDirectory()) plan.problems.push(`${dir}: not a directory`);
  for (const path of plan.remove) {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const rel = segments.slice(0, i).join("/");
      if (lstatOrNull(join(dir, rel))?.isSymbolicLink()) {
        plan.problems.push(`${join(dir, rel)}: a symbolic link is in the way of removing ${path} (not followed)`);
        break;
      }
    }
  }
  for (const file of plan.write) {
    let problem: string | null;
    try {
      problem = storedProblem(blobs, file);
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem) plan.problems.push(`${file.path}: ${problem}`);
    const segments = file.path.split("/");
    for (let i = 1; i <= segments.length; i++) {
      const rel = segments.slice(0, i).join("/");
      const st = lstatOrNull(join(dir, rel));
      if (!st) break;
      const last = i === segments.length;
      if (st.isSymbolicLink()) plan.problems.push(`${join(dir, rel)}: a symbolic link is in the way (not followed)`);
      else if (last && st.isDirectory()) plan.problems.push(`${join(dir, rel)}: a directory is in the way`);
      else if (!last && !st.isDirectory() && !removing.has(rel)) plan.problems.push(`${join(dir, rel)}: a file is in the way of ${file.path}`);
      else continue;
      break;
    }
  }
}

/** Applies a plan with no problems: removes, then writes (each beside its target, renamed over it), then the record. */
export function applyCheckout(dir: string, plan: CheckoutPlan, blobs: BlobGetter, onBytes?: OnBytes): void {
  if (plan.problems.length) throw new Error(`checkout has ${plan.problems.length} problem(s); nothing written`);
  mkdirSync(dir, { recursive: true });
  for (const path of plan.remove) {
    rmSync(join(dir, path), { force: true });
    pruneEmptyDirs(dir, dirname(path));
  }
  for (const file of plan.write) {
    const target = join(dir, file.path);
    mkdirSync(dirname(target), { recursive: true });
    const temp = `${target}.tribles-${process.pid}.tmp`;
    try {
      const fd = openSync(temp, "w");
      try {
        writeStored(blobs, file, fd, onBytes);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, target);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
  writeRecord(dir, plan.record);
}

function pruneEmptyDirs(root: string, rel: string): void {
  for (let d = rel; d !== "." && d !== ""; d = dirname(d)) {
    try {
      rmdirSync(join(root, d));
    } catch {
      return; // not empty (or gone): stop
    }
  }
}

// ── Status and committing a folder ─────────────────────────────────────────────────────────────

export type Change = "added" | "modified" | "deleted";

export interface PathStatus {
  path: string;
  /** What changed here since checkout (null: nothing). */
  local: Change | null;
  /** What changed on the branch since checkout (null: nothing). */
  branch: Change | null;
}

/** Per path, what changed here and on the branch since the folder's checkout (paths with no change are left out). */
export function folderStatus(dir: string, tree: FileTree, record: CheckoutRecord | null): { paths: PathStatus[]; skipped: FolderFiles["skipped"] } {
  const local = walkFolder(dir);
  const base = record?.files ?? new Map<string, FileVersion>();
  const byPath = new Map(tree.files.map((f) => [f.path, f]));
  const out: PathStatus[] = [];
  for (const path of [...new Set([...local.files.keys(), ...base.keys(), ...byPath.keys()])].sort()) {
    const l = local.files.has(path) ? localVersion(local.files.get(path)!) : null;
    const b = base.get(path) ?? null;
    const t = byPath.get(path) ?? null;
    const status = { path, local: change(b, l), branch: change(b, t) };
    if (status.local && sameVersion(l, t)) continue; // the same change on both sides
    if (status.local || status.branch) out.push(status);
  }
  return { paths: out, skipped: local.skipped };
}

function change(before: FileVersion | null, after: FileVersion | null): Change | null {
  if (sameVersion(before, after)) return null;
  return !before ? "added" : !after ? "deleted" : "modified";
}

export interface FolderCommit {
  changes: FileChange[];
  /** Paths edited here and on the branch: the local version is committed under this conflict name. */
  conflicts: { path: string; copy: string }[];
  /** Local deletions not committed because the branch changed the file since checkout. */
  keptOnBranch: string[];
  /** The record bases once the changes are committed (what the folder's files now correspond to). */
  bases: Map<string, FileVersion>;
  skipped: FolderFiles["skipped"];
}

/**
 * The changes that commit a folder's local edits onto `tree` (the branch now). A path changed here
 * only: committed. Changed on both sides since checkout: the branch's version stays and the local
 * one is committed beside it as a conflict copy (an edit against a removal: the edit is kept).
 */
export function folderChanges(dir: string, tree: FileTree, record: CheckoutRecord | null, me: { createdAt: bigint; author: Uint8Array }): FolderCommit {
  const local = walkFolder(dir);
  const base = record?.files ?? new Map<string, FileVersion>();
  const byPath = new Map(tree.files.map((f) => [f.path, f]));
  const result: FolderCommit = { changes: [], conflicts: [], keptOnBranch: [], bases: new Map(base), skipped: local.skipped };
  for (const path of [...new Set([...local.files.keys(), ...base.keys()])].sort()) {
    const abs = local.files.get(path);
    const l = abs ? localVersion(abs) : null;
    const b = base.get(path) ?? null;
    const t = byPath.get(path) ?? null;
    if (sameVersion(l, b) || sameVersion(l, t)) continue;
    if (sameVersion(t, b) || (l && !t)) {
      result.changes.push(l ? { kind: "putFile", path, file: abs! } : { kind: "remove", path });
      if (l) result.bases.set(path, l);
      else result.bases.delete(path);
    } else if (!l) {
      result.keptOnBranch.push(path);
    } else {
      const copy = conflictName(path, me.createdAt, me.author);
      result.changes.push({ kind: "putFile", path: copy, file: abs! });
      result.conflicts.push({ path, copy });
      // The local file's content is now in the copy; the file itself may take the branch's version.
      result.bases.set(path, l);
    }
  }
  return result;
}

function sameVersion(a: FileVersion | null, b: FileVersion | null): boolean {
  if (!a || !b) return a === b;
  return bytesEqual(a.content, b.content) && a.size === b.size;
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

export { normalizeLocalPath };
