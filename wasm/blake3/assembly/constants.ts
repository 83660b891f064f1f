// @ts-nocheck: AssemblyScript source (compiled by asc, not tsc)
// BLAKE3 constants (spec §2.1–2.2).

/** The initialisation vector: the first 32 bits of the fractional parts of the square roots of the first eight primes. */
export const IV0: i32 = 0x6a09e667;
export const IV1: i32 = <i32>0xbb67ae85;
export const IV2: i32 = 0x3c6ef372;
export const IV3: i32 = <i32>0xa54ff53a;
export const IV4: i32 = 0x510e527f;
export const IV5: i32 = <i32>0x9b05688c;
export const IV6: i32 = 0x1f83d9ab;
export const IV7: i32 = 0x5be0cd19;

// Domain-separation flags.
export const CHUNK_START: u32 = 1;
export const CHUNK_END: u32 = 2;
export const PARENT: u32 = 4;
export const ROOT: u32 = 8;
export const KEYED_HASH: u32 = 16;
export const DERIVE_KEY_CONTEXT: u32 = 32;
export const DERIVE_KEY_MATERIAL: u32 = 64;

export const BLOCK_LEN: i32 = 64;
export const CHUNK_LEN: i32 = 1024;
