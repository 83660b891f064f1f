/** Timing helpers shared by the crypto benchmark row modules. */
import { median } from "../lib.ts";

export const MB = 1e6;

/** One implementation of a row group's work: `fn` processes the group's `units` once. */
export interface Contender {
  impl: string;
  fn: () => void;
}

/**
 * Steady-state throughput of several implementations of the same work, in units per second (pass
 * bytes / 1e6 for MB/s). This machine's speed swings up to 2× within minutes, so the contenders are
 * timed in alternating rounds (each round `roundMs` per contender, the starting one rotating) and
 * each gets the median of its rounds: a ratio between two rows then compares the same minutes.
 * First every contender runs `warmMs` untimed, so the engine has compiled its WASM at the top tier
 * (JavaScriptCore starts WASM in a baseline tier 2-3× slower and optimises in the background).
 * Within a round the value is the median call, so a descheduled call does not count.
 */
export function interleaved(units: number, contenders: Contender[], rounds = 7, roundMs = 150, warmMs = 400): Map<string, number> {
  for (const c of contenders) {
    const warmEnd = performance.now() + warmMs;
    while (performance.now() < warmEnd) c.fn();
  }
  const perRound = contenders.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (r + k) % contenders.length;
      const calls: number[] = [];
      const end = performance.now() + roundMs;
      do {
        const t0 = performance.now();
        contenders[i]!.fn();
        calls.push(performance.now() - t0);
      } while (performance.now() < end);
      perRound[i]!.push(units / (median(calls) / 1000));
    }
  }
  return new Map(contenders.map((c, i) => [c.impl, median(perRound[i]!)]));
}

/** Hashes each input one call at a time (the libraries without a batch API). */
export function eachOf(inputs: Uint8Array[], fn: (b: Uint8Array) => unknown): void {
  for (const b of inputs) fn(b);
}
