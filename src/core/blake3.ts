/**
 * BLAKE3 behind one module. Every hash in tribles goes through here, so the implementation can be
 * swapped (registry WASM today, our own SIMD kernel later) without touching callers.
 *
 * Today: hash-wasm's WASM build (it works inside a `bun build --compile` executable; blake3-wasm does not).
 */
import { createBLAKE3, type IHasher } from "hash-wasm";

export const BLAKE3_OUT_LEN = 32;

// One shared instance: hashing is synchronous, so calls never interleave.
const shared: IHasher = await createBLAKE3(256);

/** BLAKE3-256 of `bytes`. */
export function hash(bytes: Uint8Array): Uint8Array {
  shared.init();
  shared.update(bytes);
  return shared.digest("binary");
}

/** Hashes each input; the result for `list[i]` is `out[i]`. */
export function hashMany(list: readonly Uint8Array[]): Uint8Array[] {
  const out = new Array<Uint8Array>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = hash(list[i]!);
  return out;
}

/**
 * Incremental hasher for inputs too large to hold at once. Its state lives outside the shared
 * WASM instance between calls, so several can be in use at the same time.
 */
export class Blake3Hasher {
  private state: Uint8Array;

  constructor() {
    shared.init();
    this.state = shared.save();
  }

  update(bytes: Uint8Array): this {
    shared.load(this.state);
    shared.update(bytes);
    this.state = shared.save();
    return this;
  }

  digest(): Uint8Array {
    shared.load(this.state);
    return shared.digest("binary");
  }
}
