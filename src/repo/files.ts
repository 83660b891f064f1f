/**
 * The content schema of `tribles pile commit FILES…` (tribles' own; the reference has no file
 * schema). Each file is one entity with an intrinsic id over three attributes:
 *
 * | attribute    | id                                 | value                                     |
 * |--------------|------------------------------------|-------------------------------------------|
 * | file name    | `2041F44334F372155E05A01CBE781515` | Handle<LongString>: the file's base name  |
 * | file content | `43B473EA00249BA22EFEAA791B06F6C3` | Handle<RawBytes>: BLAKE3 of the raw bytes |
 * | file size    | `98E0F8088F386A2907A605B71C96102F` | U256BE: the byte length                   |
 *
 * The name and content blobs are stored beside the commit. Because the id is intrinsic, the same
 * file (name, bytes) always yields the same tribles, and committing it again adds nothing.
 * Reading back (`filesAt`): commits only add, so a branch's files are, per name, the version of its
 * newest commit; names come from peers and are checked before they become paths.
 */
import { basename } from "node:path";
import { hash } from "../core/blake3.ts";
import { fromHex, isZero, toHex } from "../core/bytes.ts";
import { intrinsicEntity } from "../core/entity.ts";
import { decodeLongString, encodeLongString } from "../core/longstring.ts";
import type { Hash } from "../core/store.ts";
import { TribleSet } from "../core/tribleset.ts";
import { type BlobGetter, decodeArchive, requireBlob } from "./archive-read.ts";
import { ancestors, readCommit } from "./history.ts";

export const FILE_NAME = fromHex("2041F44334F372155E05A01CBE781515");
export const FILE_CONTENT = fromHex("43B473EA00249BA22EFEAA791B06F6C3");
export const FILE_SIZE = fromHex("98E0F8088F386A2907A605B71C96102F");

export interface FileEntry {
  /** A path; only its base name is recorded. */
  name: string;
  bytes: Uint8Array;
}

/** A file recorded in a commit's content. */
export interface FileRecord {
  nameHandle: Hash;
  contentHandle: Hash;
  size: bigint;
}

/** The content set and the blobs (name strings and file bytes) for a list of files. */
export function filesToContent(files: readonly FileEntry[]): { content: TribleSet; blobs: Uint8Array[] } {
  const content = new TribleSet();
  const blobs: Uint8Array[] = [];
  for (const file of files) {
    const nameBytes = encodeLongString(basename(file.name));
    content.unionInPlace(
      intrinsicEntity([
        [FILE_NAME, hash(nameBytes)],
        [FILE_CONTENT, hash(file.bytes)],
        [FILE_SIZE, u256be(BigInt(file.bytes.length))],
      ]).set,
    );
    blobs.push(nameBytes, file.bytes);
  }
  return { content, blobs };
}

/** The file entities of a content set (entities with all three attributes, one value each). */
export function filesInContent(content: TribleSet): FileRecord[] {
  const out: FileRecord[] = [];
  for (const e of content.entitiesWith(FILE_CONTENT)) {
    const names = content.values(e, FILE_NAME);
    const contents = content.values(e, FILE_CONTENT);
    const sizes = content.values(e, FILE_SIZE);
    if (names.length !== 1 || contents.length !== 1 || sizes.length !== 1) continue;
    const size = sizes[0]!;
    // Sizes beyond 2^64 cannot be real files; skip such (malformed) records.
    if (!isZero(size.subarray(0, 24))) continue;
    out.push({ nameHandle: names[0]!.slice(), contentHandle: contents[0]!.slice(), size: new DataView(size.buffer, size.byteOffset).getBigUint64(24) });
  }
  return out;
}

function u256be(n: bigint): Uint8Array {
  const v = new Uint8Array(32);
  new DataView(v.buffer).setBigUint64(24, n);
  return v;
}

/** The newest version of one file name in a branch's history (see `filesAt`). */
export interface BranchFile {
  name: string;
  /** False when the name could not be written as a file in a directory (see `isSafeFileName`). */
  safe: boolean;
  content: Hash;
  size: bigint;
  /** The commit that recorded this version, and when (TAI ns; absent if the commit has no time). */
  commit: Hash;
  createdAt?: bigint;
  /** How many distinct versions of this name the history holds (1 = never changed). */
  versions: number;
}

/** What `filesAt` found, and what it could not read (history fetched only in part, or damaged). */
export interface BranchFiles {
  files: BranchFile[];
  /** Commits whose content blob is missing or malformed; their files are not listed. */
  unreadableCommits: Hash[];
  /** File records whose name blob is missing or not UTF-8. */
  unreadableNames: number;
}

/**
 * The files of a branch as of `head`: for each file name, the version recorded by the newest
 * commit (by commit time, then commit hash, so every peer picks the same one). Commits only add
 * files, so every name ever committed is listed. Walks the whole history; missing commits end
 * their line of the walk, as in `pile log`.
 */
export function filesAt(blobs: BlobGetter, head: Hash): BranchFiles {
  const byName = new Map<string, BranchFile & { contents: Set<string> }>();
  const unreadableCommits: Hash[] = [];
  let unreadableNames = 0;
  const names = new Map<string, string | null>();
  for (const commit of ancestors(blobs, head, true)) {
    let info: ReturnType<typeof readCommit>;
    let content: TribleSet;
    try {
      info = readCommit(blobs, commit);
      if (!info.content) continue; // a merge commit adds nothing itself
      content = decodeArchive(requireBlob(blobs, info.content, "commit content"), "commit content");
    } catch {
      unreadableCommits.push(commit);
      continue;
    }
    for (const record of filesInContent(content)) {
      const nameKey = toHex(record.nameHandle);
      if (!names.has(nameKey)) names.set(nameKey, readName(blobs, record.nameHandle));
      const name = names.get(nameKey)!;
      if (name === null) {
        unreadableNames++;
        continue;
      }
      const candidate = { name, safe: isSafeFileName(name), content: record.contentHandle, size: record.size, commit, versions: 1, ...(info.createdAt !== undefined ? { createdAt: info.createdAt } : {}) };
      const known = byName.get(name);
      if (!known) {
        byName.set(name, { ...candidate, contents: new Set([toHex(record.contentHandle)]) });
        continue;
      }
      known.contents.add(toHex(record.contentHandle));
      if (newer(candidate, known)) Object.assign(known, candidate);
    }
  }
  const files = [...byName.values()].map(({ contents, ...file }) => ({ ...file, versions: contents.size }));
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, unreadableCommits, unreadableNames };
}

/** Newer commit time wins; equal times (or none) fall back to the larger commit hash. */
function newer(a: { commit: Hash; createdAt?: bigint }, b: { commit: Hash; createdAt?: bigint }): boolean {
  const [ta, tb] = [a.createdAt ?? -1n, b.createdAt ?? -1n];
  if (ta !== tb) return ta > tb;
  return toHex(a.commit) > toHex(b.commit);
}

function readName(blobs: BlobGetter, h: Hash): string | null {
  try {
    const bytes = blobs.get(h);
    return bytes ? decodeLongString(bytes) : null;
  } catch {
    return null;
  }
}

/**
 * Whether a recorded name (which may come from any peer) is safe to create inside a directory: a
 * plain base name, no path separators, not "." or "..", no control characters, at most 255 bytes.
 */
export function isSafeFileName(name: string): boolean {
  if (name === "" || name === "." || name === "..") return false;
  if (new TextEncoder().encode(name).length > 255) return false;
  return !/[/\\\u0000-\u001f\u007f]/.test(name);
}
