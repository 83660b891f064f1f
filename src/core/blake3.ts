/**
 * BLAKE3 behind one module. Every hash in tribles goes through here.
 *
 * The work happens in our own WebAssembly kernel (wasm/blake3: SIMD128, four compressions per
 * instruction stream). Its bytes are embedded in wasm/blake3/blake3.wasm.ts and compiled
 * synchronously at import, so there is no top-level await and no file read at run time.
 *
 * Data moves through one WASM memory: inputs are copied in from INPUT upward, one call hashes them
 * and the 32-byte outputs are copied out. `hashMany` packs a whole batch (with an address/length
 * table) per call, so thousands of small blobs cost a handful of boundary crossings. Inputs larger
 * than one memory slice are streamed through the kernel's incremental state.
 */
import { BLAKE3_WASM_BASE64 } from "../../wasm/blake3/blake3.wasm.ts";

export const BLAKE3_OUT_LEN = 32;

/**
 * Inputs up to this size hash faster in a `hashMany` batch (one input per vector lane) than one by
 * one; a larger input already spreads its chunks over the lanes on its own.
 */
export const BATCH_INPUT_MAX = 4096;

const CHUNK_LEN = 1024;
const KEYED_HASH = 16;
const DERIVE_KEY_CONTEXT = 32;
const DERIVE_KEY_MATERIAL = 64;
/**
 * Most input bytes in WASM memory at once (a multiple of the chunk length). WASM memory never
 * shrinks, so this is what hashing keeps resident for the life of the process: 2 MiB holds a
 * large file's 1 MiB chunk (a 16 MiB slice left a sync's receiver 16 MB larger for good after its
 * first batch of chunks), and larger inputs stream through it at no measurable cost.
 */
const SLICE = 2 << 20;
const PAGE = 65536;
/** Largest stack of subtree chaining values a hasher can need (2^64 bytes of input). */
const MAX_STACK = 64;

interface Kernel {
  memory: WebAssembly.Memory;
  KEY: WebAssembly.Global;
  STATE: WebAssembly.Global;
  RESULT: WebAssembly.Global;
  STACK: WebAssembly.Global;
  INPUT: WebAssembly.Global;
  absorb(ptr: number, chunks: number): void;
  finish(ptr: number, len: number, out: number): void;
  hashOne(ptr: number, len: number, out: number): void;
  hashBatch(table: number, n: number, out: number): void;
}

const kernel = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(BLAKE3_WASM_BASE64, "base64")))
  .exports as unknown as Kernel;
const KEY = kernel.KEY.value as number;
const STATE = kernel.STATE.value as number;
const RESULT = kernel.RESULT.value as number;
const STACK = kernel.STACK.value as number;
const INPUT = kernel.INPUT.value as number;

let mem = new Uint8Array(kernel.memory.buffer);
let words = new Uint32Array(kernel.memory.buffer);

/** Makes WASM memory hold at least `end` bytes (views are renewed after growth). */
function reserve(end: number): void {
  if (end <= mem.length) return;
  kernel.memory.grow(Math.ceil((end - mem.length) / PAGE));
  mem = new Uint8Array(kernel.memory.buffer);
  words = new Uint32Array(kernel.memory.buffer);
}

/** Bytes of WASM memory the kernel holds (it only grows; bounded by its layout plus one slice). */
export function kernelMemoryBytes(): number {
  return mem.length;
}

/** The IV as key bytes (plain hashing). */
const IV_KEY = new Uint8Array(
  Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19).buffer,
);

// Key and mode currently loaded in the kernel (skips rewriting them for back-to-back plain hashes).
let loadedKey: Uint8Array | null = null;
let loadedMode = -1;
function loadKey(key: Uint8Array, mode: number): void {
  if (key === loadedKey && mode === loadedMode) return;
  mem.set(key, KEY);
  words[(STATE + 4) >> 2] = mode;
  loadedKey = key;
  loadedMode = mode;
}

/**
 * A fresh copy of the 32 bytes at `from[at]`. Written out byte by byte: under JavaScriptCore this
 * is several times faster than `slice`/`subarray`, which dominate small-input batches otherwise.
 */
function take32(from: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(32);
  out[0] = from[at]!;
  out[1] = from[at + 1]!;
  out[2] = from[at + 2]!;
  out[3] = from[at + 3]!;
  out[4] = from[at + 4]!;
  out[5] = from[at + 5]!;
  out[6] = from[at + 6]!;
  out[7] = from[at + 7]!;
  out[8] = from[at + 8]!;
  out[9] = from[at + 9]!;
  out[10] = from[at + 10]!;
  out[11] = from[at + 11]!;
  out[12] = from[at + 12]!;
  out[13] = from[at + 13]!;
  out[14] = from[at + 14]!;
  out[15] = from[at + 15]!;
  out[16] = from[at + 16]!;
  out[17] = from[at + 17]!;
  out[18] = from[at + 18]!;
  out[19] = from[at + 19]!;
  out[20] = from[at + 20]!;
  out[21] = from[at + 21]!;
  out[22] = from[at + 22]!;
  out[23] = from[at + 23]!;
  out[24] = from[at + 24]!;
  out[25] = from[at + 25]!;
  out[26] = from[at + 26]!;
  out[27] = from[at + 27]!;
  out[28] = from[at + 28]!;
  out[29] = from[at + 29]!;
  out[30] = from[at + 30]!;
  out[31] = from[at + 31]!;
  return out;
}

function hashWith(key: Uint8Array, mode: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length > SLICE) return new Blake3Hasher(key, mode).update(bytes).digest();
  reserve(INPUT + bytes.length);
  loadKey(key, mode);
  mem.set(bytes, INPUT);
  kernel.hashOne(INPUT, bytes.length, RESULT);
  return take32(mem, RESULT);
}

/** BLAKE3-256 of `bytes`. */
export function hash(bytes: Uint8Array): Uint8Array {
  return hashWith(IV_KEY, 0, bytes);
}

/** BLAKE3 keyed hash (a MAC) of `bytes` under a 32-byte key. */
export function keyedHash(key: Uint8Array, bytes: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError("BLAKE3 key must be 32 bytes");
  return hashWith(key.slice(), KEYED_HASH, bytes);
}

/** BLAKE3 derive_key: 32 bytes of key material for `context` (a hard-coded, unique string) from `material`. */
export function deriveKey(context: string, material: Uint8Array): Uint8Array {
  const contextKey = hashWith(IV_KEY, DERIVE_KEY_CONTEXT, new TextEncoder().encode(context));
  return hashWith(contextKey, DERIVE_KEY_MATERIAL, material);
}

/** Hashes each input; the result for `list[i]` is `out[i]`. */
export function hashMany(list: readonly Uint8Array[]): Uint8Array[] {
  const out = new Array<Uint8Array>(list.length);
  loadKey(IV_KEY, 0);
  let i = 0;
  while (i < list.length) {
    // One call: as many inputs as fit one slice (at least one, unless it is too large to fit).
    let end = i;
    let bytes = 0;
    while (end < list.length) {
      const len = list[end]!.length;
      if (len > SLICE) break;
      const need = bytes + ((len + 7) & ~7) + 40;
      if (end > i && need > SLICE) break;
      bytes = need;
      end++;
    }
    if (end === i) {
      out[i] = hash(list[i]!);
      i++;
      continue;
    }
    const n = end - i;
    const table = INPUT;
    const results = table + n * 8;
    let at = results + n * 32;
    reserve(INPUT + bytes);
    for (let k = 0; k < n; k++) {
      const input = list[i + k]!;
      mem.set(input, at);
      words[(table >> 2) + 2 * k] = at;
      words[(table >> 2) + 2 * k + 1] = input.length;
      at += (input.length + 7) & ~7;
    }
    kernel.hashBatch(table, n, results);
    for (let k = 0; k < n; k++) out[i + k] = take32(mem, results + k * 32);
    i = end;
  }
  return out;
}

/**
 * Incremental hasher for inputs too large to hold at once. Its state (the stack of subtree
 * chaining values and the not-yet-hashed tail of at most one chunk) lives here, outside the
 * shared WASM instance, so several can be in use at the same time.
 */
export class Blake3Hasher {
  private readonly key: Uint8Array;
  private readonly mode: number;
  /** Chaining values of complete subtrees, 32 bytes each (allocated on first use). */
  private stack: Uint8Array | null = null;
  private stackLen = 0;
  /** Chunks absorbed so far. */
  private chunks = 0;
  /** The last chunk (1…1024 bytes once anything is written): never hashed until more input arrives. */
  private readonly tail = new Uint8Array(CHUNK_LEN);
  private tailLen = 0;

  constructor(key: Uint8Array = IV_KEY, mode = 0) {
    this.key = key;
    this.mode = mode;
  }

  private load(): void {
    loadKey(this.key, this.mode);
    words[STATE >> 2] = this.stackLen;
    words[(STATE + 8) >> 2] = this.chunks >>> 0;
    words[(STATE + 12) >> 2] = Math.floor(this.chunks / 2 ** 32);
    if (this.stackLen > 0) mem.set(this.stack!.subarray(0, this.stackLen * 32), STACK);
  }

  update(bytes: Uint8Array): this {
    if (this.tailLen + bytes.length <= CHUNK_LEN) {
      this.tail.set(bytes, this.tailLen);
      this.tailLen += bytes.length;
      return this;
    }
    reserve(INPUT + Math.min(SLICE, this.tailLen + bytes.length));
    this.load();
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(bytes.length - at, SLICE - this.tailLen);
      mem.set(this.tail.subarray(0, this.tailLen), INPUT);
      mem.set(bytes.subarray(at, at + take), INPUT + this.tailLen);
      const total = this.tailLen + take;
      const whole = Math.floor((total - 1) / CHUNK_LEN);
      kernel.absorb(INPUT, whole);
      this.tailLen = total - whole * CHUNK_LEN;
      this.tail.set(mem.subarray(INPUT + whole * CHUNK_LEN, INPUT + total));
      at += take;
    }
    this.stackLen = words[STATE >> 2]!;
    this.chunks = words[(STATE + 8) >> 2]! + words[(STATE + 12) >> 2]! * 2 ** 32;
    if (this.stackLen > 0) {
      this.stack ??= new Uint8Array(MAX_STACK * 32);
      this.stack.set(mem.subarray(STACK, STACK + this.stackLen * 32));
    }
    return this;
  }

  digest(): Uint8Array {
    reserve(INPUT + CHUNK_LEN);
    this.load();
    mem.set(this.tail.subarray(0, this.tailLen), INPUT);
    kernel.finish(INPUT, this.tailLen, RESULT);
    return take32(mem, RESULT);
  }
}
