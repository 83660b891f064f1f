/**
 * Walking commit history (FORMATS §7.4): ancestors through `repo::parent`, ancestry tests for
 * merges, common ancestors, checkout of a range, and signature verification of a whole chain.
 * Everything reads through a `BlobGetter`, so it works on a store snapshot or a workspace.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { type BlobGetter, decodeArchive, requireBlob } from "./archive-read.ts";
import { type CommitInfo, parseCommit, verifyCommit } from "./commit.ts";

/**
 * Commits never change (they are content-addressed), so parsed commits can be cached for the life
 * of a process; repeated ancestry walks during push retries then cost no decoding.
 */
const CACHE_LIMIT = 200_000;
/** Commit hash → entry number (bytes, no hex per lookup) and the parsed commit of each entry. */
let cachedHashes = new HashIndex(1024);
let cachedCommits: CommitInfo[] = [];

/** Reads and parses a commit (a frozen, shared object); a missing or malformed commit is a RepoError. */
export function readCommit(blobs: BlobGetter, h: Hash): CommitInfo {
  const entry = cachedHashes.find(h);
  if (entry >= 0) return cachedCommits[entry]!;
  const info = parseCommit(requireBlob(blobs, h, "commit"));
  // Shared between callers through the cache, so it must not be changed.
  Object.freeze(info.parents);
  Object.freeze(info);
  if (cachedHashes.size >= CACHE_LIMIT) {
    cachedHashes = new HashIndex(1024);
    cachedCommits = [];
  }
  cachedCommits[cachedHashes.insert(h).entry] = info;
  return info;
}

/**
 * Yields `start` and all its ancestors breadth-first, each once. With `tolerant`, commits that
 * are missing or unreadable end their line of the walk instead of throwing (the merge decision
 * then falls back to a merge commit, which is always correct).
 */
export function* ancestors(blobs: BlobGetter, start: Hash, tolerant = false): Generator<Hash> {
  const seen = new HashIndex(64);
  const queue: Hash[] = [start];
  for (let next = 0; next < queue.length; next++) {
    const h = queue[next]!;
    if (!seen.insert(h).added) continue;
    yield h;
    let info: CommitInfo;
    try {
      info = readCommit(blobs, h);
    } catch (err) {
      if (tolerant) continue;
      throw err;
    }
    for (const p of info.parents) queue.push(p);
  }
}

/** True when `ancestor` is `descendant` or reachable from it (unreadable history counts as "no"). */
export function isAncestor(blobs: BlobGetter, ancestor: Hash, descendant: Hash): boolean {
  for (const h of ancestors(blobs, descendant, true)) if (bytesEqual(h, ancestor)) return true;
  return false;
}

/** How two heads relate: the same commit, one in the other's history, or neither. */
export type Ancestry = "same" | "a-in-b" | "b-in-a" | "diverged";

/**
 * How `a` and `b` relate, walking both histories in step so that the answer costs about as many
 * commits as lie between them: a head one commit ahead of a long history is found in two steps,
 * where asking "is b in a's history" first would walk all of a's history (a sync merges each
 * arriving head this way, every round). Diverged heads still cost both walks.
 */
export function ancestry(blobs: BlobGetter, a: Hash, b: Hash): Ancestry {
  if (bytesEqual(a, b)) return "same";
  const fromA = ancestors(blobs, a, true);
  const fromB = ancestors(blobs, b, true);
  let aDone = false;
  let bDone = false;
  while (!aDone || !bDone) {
    if (!aDone) {
      const step = fromA.next();
      if (step.done) aDone = true;
      else if (bytesEqual(step.value, b)) return "b-in-a";
    }
    if (!bDone) {
      const step = fromB.next();
      if (step.done) bDone = true;
      else if (bytesEqual(step.value, a)) return "a-in-b";
    }
  }
  return "diverged";
}

/** Commits reachable from both heads that are not ancestors of another such commit. */
export function commonAncestors(blobs: BlobGetter, a: Hash, b: Hash): Hash[] {
  const fromA = new Set([...ancestors(blobs, a)].map(toHex));
  const common = [...ancestors(blobs, b)].filter((h) => fromA.has(toHex(h)));
  // A common commit reachable from another common commit is not a nearest one. Each walk stops
  // at commits already shadowed (their ancestors are shadowed too), so this stays linear.
  const shadowed = new Set<string>();
  for (const c of common) {
    if (shadowed.has(toHex(c))) continue;
    const queue = [...readCommit(blobs, c).parents];
    for (let next = 0; next < queue.length; next++) {
      const h = queue[next]!;
      if (shadowed.has(toHex(h))) continue;
      shadowed.add(toHex(h));
      for (const parent of readCommit(blobs, h).parents) queue.push(parent); // a spread would overflow the stack on a huge parent list
    }
  }
  return common.filter((c) => !shadowed.has(toHex(c)));
}

/**
 * The union of the content of `head` and its ancestors, excluding `since` and its ancestors:
 * the facts added in the range (since, head]. Merge commits contribute nothing themselves.
 */
export function checkoutRange(blobs: BlobGetter, head: Hash, since?: Hash): TribleSet {
  const excluded = new Set(since ? [...ancestors(blobs, since)].map(toHex) : []);
  const out = new TribleSet();
  for (const h of ancestors(blobs, head)) {
    if (excluded.has(toHex(h))) continue;
    const info = readCommit(blobs, h);
    if (info.content) out.unionInPlace(decodeArchive(requireBlob(blobs, info.content, "commit content"), "commit content"));
  }
  return out;
}

export interface VerifiedCommit {
  handle: Hash;
  /** Author key; null for a merge commit (unsigned by design). */
  author: Uint8Array | null;
}

/**
 * Verifies the signature of every authored commit from `head` down to the roots. Throws a
 * SignatureError (or a RepoError for missing blobs) naming the first bad commit.
 */
export function verifyHistory(blobs: BlobGetter, head: Hash): VerifiedCommit[] {
  const out: VerifiedCommit[] = [];
  for (const h of ancestors(blobs, head)) out.push({ handle: h, author: verifyOne(blobs, h) });
  return out;
}

/** Verifies one commit's signature against its content blob; returns the author (null for merges). */
export function verifyOne(blobs: BlobGetter, h: Hash): Uint8Array | null {
  const bytes = requireBlob(blobs, h, "commit");
  const info = readCommit(blobs, h);
  const content = info.content ? requireBlob(blobs, info.content, "commit content") : undefined;
  try {
    return verifyCommit(bytes, content);
  } catch (err) {
    (err as Error).message = `commit ${toHex(h)}: ${(err as Error).message}`;
    throw err;
  }
}
