/**
 * Paces garbage collection while large buffers stream through a process (the chunks of a large
 * file being read, served or fetched).
 *
 * JavaScriptCore lets its heap grow in proportion to the memory it believes is live, and a pile's
 * memory mapping counts as such: with a 1 GiB pile mapped, a process reading 1 MiB buffers one
 * after another grew by the mapping's size before the collector ran (measured: 512 MiB of
 * anonymous memory for a 512 MiB checkout, 13 MiB without the mapping). So the code moving such
 * buffers notes their bytes here, and every `CHECK_BYTES` noted the process's resident memory is
 * looked at: once it has grown `SLACK_BYTES` above the lowest seen since the last collection, a
 * full collection runs. Collecting after a count of noted bytes missed what the transport
 * allocates around them (socket reads, frames joined across reads, sealed frames): a sync's
 * receiver collected after every 4 MiB it received and still peaked at 120-122 MB where this
 * pacing holds it to 116-117 (400 MiB file, same run). A full collection of a sync process's heap
 * takes about 5 ms on an idle machine and 10-40 ms on a loaded 2-core one, so collecting only when
 * memory has grown also spares the collections that would find little. Every DEEP_EVERY-th
 * collection also gives the allocator's free memory back.
 */

/** Noted bytes between two looks at resident memory (reading it costs about 13 µs). */
export const CHECK_BYTES = 1024 * 1024;
/** Growth of resident memory above the lowest seen since the last collection that triggers one. */
export const SLACK_BYTES = 8 * 1024 * 1024;
/**
 * Every this many collections, a deep one also shrinks the VM's footprint (JSC's
 * shrinkFootprint: the allocator's free memory goes back to the system, compiled code is dropped
 * and compiled again as it runs). A collection frees garbage, but the allocator keeps much of the
 * memory it freed: a 400 MiB sync's receiver, between collections 105-125 MB, peaked at
 * 121-129 MB with plain collections and 117-119 MB with every 8th deep, for about 5% more CPU
 * (every 4th: no lower, 25% more CPU).
 */
export const DEEP_EVERY = 8;

/** The pacing itself, with resident memory and the collector given (tests pass their own). */
export class GcPacer {
  private owed = 0;
  /** Bytes noted so far. */
  noted = 0;
  /** Lowest resident memory seen since the last collection. */
  private floor = Number.POSITIVE_INFINITY;
  /** Collections run so far. */
  collections = 0;

  constructor(
    private readonly residentBytes: () => number,
    /** Collects garbage; `deep` every DEEP_EVERY collections. */
    private readonly collect: (deep: boolean) => void,
  ) {}

  /** Notes `bytes` of short-lived buffers; collects once resident memory has grown `SLACK_BYTES`. */
  note(bytes: number): void {
    this.noted += bytes;
    this.owed += bytes;
    if (this.owed < CHECK_BYTES) return;
    this.owed = 0;
    const resident = this.residentBytes();
    if (resident < this.floor + SLACK_BYTES) {
      this.floor = Math.min(this.floor, resident);
      return;
    }
    this.collections++;
    this.collect(this.collections % DEEP_EVERY === 0);
    this.floor = this.residentBytes();
  }
}

const pacer = new GcPacer(
  () => process.memoryUsage.rss(),
  (deep) => {
    Bun.gc(true);
    if (deep) Bun.shrink();
  },
);

/**
 * Notes `bytes` of short-lived buffers (a chunk read from a pile, received or sent); collects
 * garbage once the process's resident memory has grown `SLACK_BYTES` since the last collection.
 */
export function noteTransient(bytes: number): void {
  pacer.note(bytes);
}

/** Bytes of short-lived buffers noted so far (tests check that code moving buffers notes them). */
export function notedBytes(): number {
  return pacer.noted;
}

/** Collections asked for so far (for tests and the bench). */
export function pacedCollections(): number {
  return pacer.collections;
}

/**
 * Gives back what a long-running command's start-up left behind: the compiled code of functions
 * that ran once (module bodies, option parsing, the node's setup) and the allocator's free memory
 * (JSC's shrinkFootprint: code that runs again is compiled again). JSC does it once the current
 * event-loop task ends. An idle `pile net sync` went from 91-94 MB to 82-85 MB.
 */
export function shrinkAfterStartup(): void {
  Bun.shrink();
}
