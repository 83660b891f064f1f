/**
 * Paces garbage collection while large buffers stream through a process (the chunks of a large
 * file being read, served or fetched).
 *
 * JavaScriptCore lets its heap grow in proportion to the memory it believes is live, and a pile's
 * memory mapping counts as such: with a 1 GiB pile mapped, a process reading 1 MiB buffers one
 * after another grew by the mapping's size before the collector ran (measured: 512 MiB of
 * anonymous memory for a 512 MiB checkout, 13 MiB without the mapping). Asking for a collection
 * after every `PACE_BYTES` of such buffers keeps that garbage bounded whatever the file's size.
 * A full collection of a sync process's heap takes a few milliseconds; at 8 MiB that is a few
 * percent of a transfer's time (32 MiB left a receiver's anonymous memory 40 MB higher).
 */

/** Bytes of large, short-lived buffers between two collections. */
export const PACE_BYTES = 8 * 1024 * 1024;

let owed = 0;

/**
 * Notes `bytes` of short-lived buffers (a chunk read from a pile, received or sent); collects
 * garbage once `PACE_BYTES` have accumulated since the last collection.
 */
export function noteTransient(bytes: number): void {
  owed += bytes;
  if (owed < PACE_BYTES) return;
  owed = 0;
  collections++;
  Bun.gc(true);
}

let collections = 0;

/** Collections asked for so far (for tests and the bench). */
export function pacedCollections(): number {
  return collections;
}
