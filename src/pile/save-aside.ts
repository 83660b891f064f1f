/**
 * Saving bytes before they are cut off a pile: the rule that nothing is lost by repair. The copy is
 * written and fsynced before the caller truncates; an earlier copy is never overwritten.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { PileError } from "./errors.ts";

/** Copies that can share one offset (the same offset torn again after a repair) before we give up. */
const MAX_COPIES = 1000;

/**
 * Writes `bytes` (what will be cut at `offset`) to `PILE.damaged-tail-OFFSET`, or, if that exists,
 * `PILE.damaged-tail-OFFSET.2`, `.3` …, and returns the path. Throws a PileError (and the caller
 * changes nothing) if no copy can be written.
 */
export function saveAside(path: string, offset: number, bytes: Uint8Array): string {
  const first = `${path}.damaged-tail-${offset}`;
  for (let n = 1; n <= MAX_COPIES; n++) {
    const target = n === 1 ? first : `${first}.${n}`;
    let out: number;
    try {
      out = openSync(target, "wx", 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      throw new PileError(path, `cannot save the ${bytes.length} bytes from offset ${offset} to ${target} (${code ?? String(err)}); nothing was changed`);
    }
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(out, bytes, at);
      fsyncSync(out);
    } catch (err) {
      throw new PileError(path, `cannot save the ${bytes.length} bytes from offset ${offset} to ${target} (${(err as NodeJS.ErrnoException).code ?? String(err)}); nothing was cut`);
    } finally {
      closeSync(out);
    }
    syncDirectory(dirname(target));
    return target;
  }
  throw new PileError(path, `cannot save the bytes from offset ${offset}: ${first} and ${MAX_COPIES - 1} numbered copies exist already; nothing was changed`);
}

/** Makes the new file's directory entry durable too (best effort: some file systems refuse). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // A directory that cannot be fsynced still holds the fsynced file; nothing more to do.
  }
}
