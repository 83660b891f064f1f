/** Timing helpers shared by the crypto benchmark row modules. */
import { median } from "../lib.ts";

export const MB = 1e6;

/** Best-of-median throughput: runs `fn` (which processes `bytes`) until ~`ms` elapsed, returns MB/s. */
export function throughput(bytes: number, fn: () => void, ms = 600): number {
  fn();
  const samples: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return bytes / MB / (median(samples) / 1000);
}

/** Hashes each input one call at a time (the libraries without a batch API). */
export function eachOf(inputs: Uint8Array[], fn: (b: Uint8Array) => unknown): void {
  for (const b of inputs) fn(b);
}
