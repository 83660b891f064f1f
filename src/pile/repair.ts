/**
 * `repairTail`: the way out when a pile ends in damaged bytes that opening refuses to truncate
 * (they do not look like an interrupted append, so they could be something a user wants: a file
 * appended by mistake, a damaged last record). When no valid record follows the damage, the bytes
 * are first saved beside the pile, then cut off; nothing is lost. Damage followed by valid records
 * is left alone (cutting there would drop them).
 */
import { closeSync, constants, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { readWhole } from "./diagnose.ts";
import { PileCorruptError, PileError } from "./errors.ts";
import { withLock } from "./flock.ts";
import { nothingValidAfter, scanRecords } from "./scan.ts";

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
 * a damaged one, or the payload of a large blob cut short by a crash (a stored pile file, say),
 * which no rule can tell apart; since everything cut is saved first, nothing is lost either way.
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
      if (offset === 0) throw new PileError(path, "not a pile: it does not start with a pile record (file left untouched)");
      if (!opts.force && !nothingValidAfter(bytes, offset, bytes.length)) {
        throw new PileCorruptError(path, offset, `${scan.reason}, and valid-looking records follow it (repair --force cuts there after saving everything from that offset on)`);
      }
      const savedTo = `${path}.damaged-tail-${offset}`;
      // wx: never overwrite an earlier save. The copy is on disk before anything is cut.
      let out: number;
      try {
        out = openSync(savedTo, "wx", 0o600);
      } catch (err) {
        throw new PileError(path, `cannot save the damaged tail to ${savedTo} (${(err as NodeJS.ErrnoException).code ?? String(err)}); nothing was changed`);
      }
      try {
        const tail = bytes.subarray(offset);
        for (let at = 0; at < tail.length; ) at += writeSync(out, tail, at);
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      ftruncateSync(fd, offset);
      fsyncSync(fd);
      return { offset, bytes: bytes.length - offset, savedTo };
    });
  } finally {
    closeSync(fd);
  }
}
