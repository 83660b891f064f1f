/**
 * One long-running sync per pile. Two `pile net sync` processes on one pile work (appends and
 * branch moves are locked), but each announces what the other wrote and both fetch the same heads:
 * confusing, and never what was meant. The lock is a flock on a file in the temp directory named by
 * the pile's device and inode (no file beside the pile; a renamed or linked path is the same pile),
 * so it is released when the process ends however it ends.
 */
import { closeSync, openSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tryLockExclusive } from "./flock.ts";

/** Holds the sync lock of the pile at `path`; null when another process holds it. */
export function lockPileForSync(path: string): { release(): void } | null {
  const { dev, ino } = statSync(path);
  const fd = openSync(join(tmpdir(), `tribles-sync-${dev}-${ino}.lock`), "a", 0o600);
  if (!tryLockExclusive(fd)) {
    closeSync(fd);
    return null;
  }
  // Closing the descriptor releases the lock.
  return { release: () => closeSync(fd) };
}
