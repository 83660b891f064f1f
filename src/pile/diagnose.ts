/**
 * Full check of a pile file, independent of the Pile's index: walks every record, verifies every
 * blob's hash, and reports counts, sizes, branches and any corruption with its offset. Never writes.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { BATCH_INPUT_MAX, hash as blake3, hashMany } from "../core/blake3.ts";
import { bytesEqual, fromHex, toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import { BranchTable } from "./branch-table.ts";
import { PileError } from "./errors.ts";
import { withLock } from "./flock.ts";
import { HEADER_LEN, readBlobLength } from "./format.ts";
import { scanRecords } from "./scan.ts";
import { adviceFor, countRecords, judgeTail, type RecordCounts } from "./tail.ts";

export interface DiagnoseReport {
  path: string;
  fileBytes: number;
  /** Bytes up to the first bad record (the whole file when there is none). */
  validBytes: number;
  blobRecords: number;
  distinctBlobs: number;
  /** Later records repeating an earlier record's hash (racing writers; harmless). */
  duplicateRecords: number;
  /** Sum of payload lengths over all blob records. */
  blobBytes: number;
  branchRecords: number;
  tombstones: number;
  /** Live branches after replaying every branch record (lower-case hex), with their metadata blob's state. */
  branches: DiagnosedBranch[];
  /** Blob records whose payload does not match their hash. */
  badBlobs: { offset: number; hash: string }[];
  /**
   * The first structural problem, if any. A torn tail (an interrupted append) is what opening the
   * pile saves aside and truncates; `nothingAfter`: no valid record follows it, so `repairTail`
   * can move it aside; `advice`: what to do about it (opening a corrupt pile gives the same).
   */
  corruption?: { offset: number; reason: string; tornTail: boolean; nothingAfter: boolean; advice: string };
  /**
   * For corruption that is not a torn tail: what the reference's `Pile::restore` would do with
   * this file (tribles leaves it untouched): truncate it at the bad record, throwing away
   * everything after it, including the records counted here.
   */
  referenceRestore?: {
    truncatesTo: number;
    discardsBytes: number;
    /** Records found after the bad one (a reader resynchronising on the 64-byte grid finds them). */
    discardsRecords: RecordCounts;
    /** Branches (hex ids) whose newest record lies after the damage: restore loses or rewinds them. */
    branchesLost: string[];
  };
  ok: boolean;
}

/**
 * A live branch. `metadata`: `ok` (its metadata blob is in the file and verifies), `missing` (not
 * in the file: a partial copy), `damaged` (fails its hash), or `unreadable` (not branch metadata,
 * as `inspectMeta` judged); `name` when `inspectMeta` could read one.
 */
export interface DiagnosedBranch {
  id: string;
  head: string;
  metadata: "ok" | "missing" | "damaged" | "unreadable";
  name?: string;
  problem?: string;
}

export interface DiagnoseOptions {
  /** Called now and then with the bytes checked so far and the file size. */
  onProgress?: (checked: number, total: number) => void;
  /**
   * Reads a branch's metadata blob (a layer above the pile knows its format): its name, or why it
   * is not branch metadata. `blob` looks up other blobs of the file (the name), verified.
   */
  inspectMeta?: (meta: Uint8Array, blob: (hash: Uint8Array) => Uint8Array | undefined) => { name?: string; problem?: string };
}

/** A batch of small blobs (see BATCH_INPUT_MAX) is hashed once it holds this many… */
const BATCH_COUNT = 1024;
/** …and progress is reported about every this many bytes of the file. */
const PROGRESS_EVERY = 64 << 20;

/**
 * Checks every record of the file at `path`. Holds the shared lock while it reads, so no other
 * process can truncate a torn tail out from under the mapping. `onProgress` is called now and then
 * with the bytes checked so far and the file size (a large pile takes seconds).
 */
export function diagnosePile(path: string, options: DiagnoseOptions | DiagnoseOptions["onProgress"] = {}): DiagnoseReport {
  const opts = typeof options === "function" ? { onProgress: options } : options;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PileError(path, code === "ENOENT" ? "no such pile" : `cannot open (${code ?? String(err)})`);
  }
  try {
    return withLock(fd, false, () => check(path, readWhole(path, fd), opts));
  } finally {
    closeSync(fd);
  }
}

function check(path: string, bytes: Uint8Array, { onProgress, inspectMeta }: DiagnoseOptions): DiagnoseReport {
  const report: DiagnoseReport = {
    path,
    fileBytes: bytes.length,
    validBytes: 0,
    blobRecords: 0,
    distinctBlobs: 0,
    duplicateRecords: 0,
    blobBytes: 0,
    branchRecords: 0,
    tombstones: 0,
    branches: [],
    badBlobs: [],
    ok: true,
  };
  const seen = new HashIndex(1024);
  /** Per entry of `seen`: the offset of its first record. */
  let firstRecord: Float64Array = new Float64Array(1024);
  const branches = new BranchTable();
  // Small blobs wait in a batch (in file order, so bad ones are reported in order) and are hashed
  // together; a large one is hashed on its own, after the batch before it.
  let batchAt: number[] = [];
  let batchPayloads: Uint8Array[] = [];
  const verify = (at: number, digest: Uint8Array) => {
    const header = bytes.subarray(at + 32, at + 64);
    if (!bytesEqual(digest, header)) report.badBlobs.push({ offset: at, hash: toHex(header) });
  };
  const checkBatch = () => {
    for (const [k, digest] of hashMany(batchPayloads).entries()) verify(batchAt[k]!, digest);
    batchAt = [];
    batchPayloads = [];
  };
  let nextProgress = PROGRESS_EVERY;
  const result = scanRecords(bytes, 0, bytes.length, {
    blob(at, length) {
      report.blobRecords++;
      report.blobBytes += length;
      if (seen.find(bytes, at + 32) >= 0) report.duplicateRecords++;
      else {
        const entry = seen.append(bytes, at + 32);
        if (entry >= firstRecord.length) firstRecord = grown(firstRecord);
        firstRecord[entry] = at;
      }
      const payload = bytes.subarray(at + HEADER_LEN, at + HEADER_LEN + length);
      if (length <= BATCH_INPUT_MAX) {
        batchAt.push(at);
        batchPayloads.push(payload);
        if (batchAt.length === BATCH_COUNT) checkBatch();
      } else {
        if (batchAt.length) checkBatch();
        verify(at, blake3(payload));
      }
      if (onProgress && at >= nextProgress) {
        onProgress(at, bytes.length);
        nextProgress = at + PROGRESS_EVERY;
      }
    },
    branch(at, isHead) {
      if (isHead) {
        report.branchRecords++;
        branches.set(bytes, at + 16, at + 32);
      } else {
        report.tombstones++;
        branches.remove(bytes, at + 16);
      }
    },
  });
  if (batchAt.length) checkBatch();
  onProgress?.(bytes.length, bytes.length);
  report.validBytes = result.end;
  report.distinctBlobs = seen.size;
  const bad = new Set(report.badBlobs.map((b) => b.offset));
  /** The payload of the blob `hash` (its first record), or why there is none. */
  const payloadOf = (hash: Uint8Array): Uint8Array | "missing" | "damaged" => {
    const entry = seen.find(hash, 0);
    if (entry < 0) return "missing";
    const at = firstRecord[entry]!;
    if (bad.has(at)) return "damaged";
    return bytes.subarray(at + HEADER_LEN, at + HEADER_LEN + readBlobLength(bytes, at + 24));
  };
  const blob = (hash: Uint8Array) => {
    const found = payloadOf(hash);
    return typeof found === "string" ? undefined : found;
  };
  report.branches = branches.liveIds().map((id): DiagnosedBranch => {
    const head = branches.head(id)!;
    const branch: DiagnosedBranch = { id: toHex(id), head: toHex(head), metadata: "ok" };
    const meta = payloadOf(head);
    if (typeof meta === "string") return { ...branch, metadata: meta };
    const seenBy = inspectMeta?.(meta, blob);
    if (seenBy?.name !== undefined) branch.name = seenBy.name;
    if (seenBy?.problem !== undefined) return { ...branch, metadata: "unreadable", problem: seenBy.problem };
    return branch;
  });
  if (!result.ok) {
    const verdict = judgeTail(bytes, result.end, bytes.length, result.reason);
    const advice = adviceFor(path, result.end, verdict);
    report.corruption = { offset: result.end, reason: verdict.reason, tornTail: verdict.torn, nothingAfter: verdict.nothingAfter, advice };
    if (!verdict.torn) {
      // Replay the branch records after the damage on top of those before it: every branch that
      // changes is one restore would lose (or set back to an older head).
      const changed = new Map<string, Uint8Array>();
      const discardsRecords = countRecords(bytes, result.end + HEADER_LEN, bytes.length, (at, isHead) => {
        changed.set(toHex(bytes.subarray(at + 16, at + 32)), isHead ? bytes.subarray(at + 32, at + 64) : new Uint8Array(0));
      });
      const branchesLost = [...changed].filter(([id, head]) => {
        const before = branches.head(fromHex(id));
        return before === null ? head.length > 0 : !bytesEqual(before, head);
      });
      report.referenceRestore = { truncatesTo: result.end, discardsBytes: bytes.length - result.end, discardsRecords, branchesLost: branchesLost.map(([id]) => id) };
    }
  }
  // A torn tail is what a crash leaves and opening repairs: worth saying, not a failure.
  report.ok = (result.ok || report.corruption?.tornTail === true) && report.badBlobs.length === 0;
  return report;
}

function grown(array: Float64Array): Float64Array {
  const out = new Float64Array(array.length * 2);
  out.set(array);
  return out;
}

/** The file's bytes as one read-only mapping (the caller holds a lock). */
export function readWhole(path: string, fd: number): Uint8Array {
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw new PileError(path, "not a regular file");
  if (stat.size === 0) return new Uint8Array(0);
  const mapped = Bun.mmap(`/proc/self/fd/${fd}`, { shared: false });
  if (mapped.length === stat.size) return mapped;
  // The file grew between fstat and mmap (an append under the shared lock): check what fstat saw.
  return mapped.subarray(0, Math.min(mapped.length, stat.size));
}
