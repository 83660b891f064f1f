/**
 * `repairTail`: the way out when a pile ends in damaged bytes that opening refuses to truncate
 * (they do not look like an interrupted append, so they could be something a user wants: a file
 * appended by mistake, a damaged last record). When no valid record follows the damage (or it is
 * a torn tail, which opening would cut too), the bytes are first saved beside the pile, then cut
 * off; nothing is lost. Damage followed by valid records is left alone unless forced.
 */
import { closeSync, constants, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { readWhole } from "./diagnose.ts";
import { PileCorruptError, PileError } from "./errors.ts";
import { withLock } from "./flock.ts";
import { saveAside } from "./save-aside.ts";
import { scanRecords } from "./scan.ts";
import { judgeTail } from "./tail.ts";

export interface TailRepair {
  /** Where the pile now ends (the first damaged byte). */
  offset: number;
  bytes: number;
  /** The file holding the bytes that were cut off. */
  savedTo: string;
}

const ignore = { blob() {}, branch() {} };

/**
 * Cuts a damaged tail off the pile at `path` after saving it; null when the pile has none. With
 * `force`, cuts even when valid-looking records follow the damage: they may be real records after
 * a damaged one, or the payload of a large blob cut short by a crash (a stored pile file, say)
 * that `judgeTail` could not tell apart from them; since everything cut is saved first, nothing
 * is lost either way.
 */
export function repairTail(path: string, opts: { force?: boolean } = {}): TailRepair | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PileError(path, code === "ENOENT" ? "no such pile" : `cannot open (${code ?? String(err)})`);
  }
  try {
    return withLock(fd, true, () => {
      const bytes = readWhole(path, fd);
      const scan = scanRecords(bytes, 0, bytes.length, ignore);
      if (scan.ok) return null;
      const offset = scan.end;
      const verdict = judgeTail(bytes, offset, bytes.length, scan.reason);
      if (offset === 0 && !verdict.torn && verdict.nothingAfter) throw new PileError(path, "not a pile: it does not start with a pile record (file left untouched)");
      if (!opts.force && !verdict.torn && !verdict.nothingAfter) {
        throw new PileCorruptError(path, offset, `${verdict.reason}; valid-looking records follow it (repair --force cuts there after saving everything from that offset on)`);
      }
      // The copy is on disk before anything is cut.
      const savedTo = saveAside(path, offset, bytes.subarray(offset));
      ftruncateSync(fd, offset);
      fsyncSync(fd);
      return { offset, bytes: bytes.length - offset, savedTo };
    });
  } finally {
    closeSync(fd);
  }
}
