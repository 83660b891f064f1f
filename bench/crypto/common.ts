/** Timing helpers shared by the crypto benchmark row modules. */
import { median } from "../lib.ts";

export const MB = 1e6;

/**
 * Steady-state throughput: runs `fn` (which processes `bytes`) for `warmMs` untimed, so the engine
 * has compiled every WASM function at its top tier (JavaScriptCore starts WASM in a baseline tier
 * that is 2-3× slower and optimises in the background), then for ~`ms` timed; returns MB/s of the
 * median call.
 */
export function throughput(bytes: number, fn: () => void, ms = 600, warmMs = 500): number {
  const warmEnd = performance.now() + warmMs;
  while (performance.now() < warmEnd) fn();
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
