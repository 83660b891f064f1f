/**
 * Full check of a pile file, independent of the index: walks every record, verifies every blob's
 * hash, and reports counts, sizes, branches and any corruption with its offset. Never writes.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { hash as blake3 } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import { HEADER_LEN } from "./format.ts";
import { isTornTail, scanRecords } from "./scan.ts";

export interface DiagnoseReport {
  path: string;
  fileBytes: number;
  validBytes: number;
  blobRecords: number;
  distinctBlobs: number;
  blobBytes: number;
  branchRecords: number;
  tombstones: number;
  branches: { id: string; head: string }[];
  /** Blob records whose payload does not match their hash. */
  badBlobs: { offset: number; hash: string }[];
  /** First structural problem, if any. */
  corruption?: { offset: number; reason: string; tornTail: boolean };
  ok: boolean;
}

export function diagnosePile(path: string): DiagnoseReport {
  const fd = openSync(path, "r");
  let bytes: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    bytes = size === 0 ? new Uint8Array(0) : Bun.mmap(path, { shared: false });
    if (bytes.length !== size) {
      const copy = new Uint8Array(size);
      readSync(fd, copy, 0, size, 0);
      bytes = copy;
    }
  } finally {
    closeSync(fd);
  }
  const report: DiagnoseReport = {
    path,
    fileBytes: bytes.length,
    validBytes: 0,
    blobRecords: 0,
    distinctBlobs: 0,
    blobBytes: 0,
    branchRecords: 0,
    tombstones: 0,
    branches: [],
    badBlobs: [],
    ok: true,
  };
  const seen = new Set<string>();
  const heads = new Map<string, string>();
  const result = scanRecords(bytes, 0, bytes.length, {
    blob(at, length) {
      report.blobRecords++;
      report.blobBytes += length;
      const declared = bytes.subarray(at + 32, at + 64);
      const key = toHex(declared);
      seen.add(key);
      if (!bytesEqual(blake3(bytes.subarray(at + HEADER_LEN, at + HEADER_LEN + length)), declared)) report.badBlobs.push({ offset: at, hash: key });
    },
    branch(at, isHead) {
      const id = toHex(bytes.subarray(at + 16, at + 32));
      if (isHead) {
        report.branchRecords++;
        heads.set(id, toHex(bytes.subarray(at + 32, at + 64)));
      } else {
        report.tombstones++;
        heads.delete(id);
      }
    },
  });
  report.validBytes = result.end;
  report.distinctBlobs = seen.size;
  report.branches = [...heads].map(([id, head]) => ({ id, head }));
  if (!result.ok) report.corruption = { offset: result.end, reason: result.reason, tornTail: isTornTail(bytes, result.end, bytes.length) };
  report.ok = !result.ok ? false : report.badBlobs.length === 0;
  return report;
}
