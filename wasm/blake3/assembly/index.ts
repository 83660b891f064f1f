// @ts-nocheck: AssemblyScript source (compiled by asc, not tsc)
/**
 * BLAKE3 kernel: SIMD128, four compressions at a time (one per i32x4 lane).
 *
 * No allocator and no runtime: the kernel works on fixed addresses. The host (src/core/blake3.ts)
 * writes inputs from INPUT upward, sets the key and mode in KEY/STATE, calls one entry point and
 * reads 32-byte outputs back.
 *
 * Tree: chunks of 1024 bytes, each hashed block by block (64-byte blocks) into a chaining value;
 * chaining values are merged pairwise by parent nodes. The tree for n chunks puts the largest power
 * of two strictly below n in the left subtree. Whole aligned subtrees of 2^k chunks are hashed four
 * chunks at a time and reduced four parents at a time; a stack of subtree chaining values (one
 * entry per set bit of the chunk count) joins them, exactly as an incremental hasher must.
 */
import { compress4 } from "./compress";
import { CHUNK_END, CHUNK_LEN, CHUNK_START, PARENT, ROOT } from "./constants";

import {
  B_FLAGS,
  B_LEN,
  B_MASK,
  B_PTR,
  CV,
  CV_ADDR,
  DUMMY,
  KEY,
  L_BLOCKS,
  L_CTR_HI,
  L_CTR_LO,
  L_LEN,
  L_OUT,
  L_PTR,
  L_ROOT,
  MAX_SUBTREE,
  PAD,
  STACK,
  STATE,
  SUB,
} from "./layout";

export { INPUT, KEY, RESULT, STACK, STATE } from "./layout";

store<u32>(CV_ADDR, <u32>CV);

/** CV, read from memory (see CV_ADDR). */
function cvBase(): usize {
  return <usize>load<u32>(CV_ADDR);
}

function mode(): u32 {
  return load<u32>(STATE, 4);
}

/** Every lane's chaining value := the key. */
function initCV(): void {
  v128.store(CV, i32x4.splat(load<i32>(KEY, 0)), 0);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 4)), 16);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 8)), 32);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 12)), 48);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 16)), 64);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 20)), 80);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 24)), 96);
  v128.store(CV, i32x4.splat(load<i32>(KEY, 28)), 112);
}

/** Writes the transposed chaining values at CV out as four 32-byte values, lane k at `ok`. */
function storeLanes(o0: usize, o1: usize, o2: usize, o3: usize): void {
  let a = v128.load(CV, 0);
  let b = v128.load(CV, 16);
  let c = v128.load(CV, 32);
  let d = v128.load(CV, 48);
  let loAB = i32x4.shuffle(a, b, 0, 4, 1, 5);
  let hiAB = i32x4.shuffle(a, b, 2, 6, 3, 7);
  let loCD = i32x4.shuffle(c, d, 0, 4, 1, 5);
  let hiCD = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(o0, i32x4.shuffle(loAB, loCD, 0, 1, 4, 5), 0);
  v128.store(o1, i32x4.shuffle(loAB, loCD, 2, 3, 6, 7), 0);
  v128.store(o2, i32x4.shuffle(hiAB, hiCD, 0, 1, 4, 5), 0);
  v128.store(o3, i32x4.shuffle(hiAB, hiCD, 2, 3, 6, 7), 0);
  a = v128.load(CV, 64);
  b = v128.load(CV, 80);
  c = v128.load(CV, 96);
  d = v128.load(CV, 112);
  loAB = i32x4.shuffle(a, b, 0, 4, 1, 5);
  hiAB = i32x4.shuffle(a, b, 2, 6, 3, 7);
  loCD = i32x4.shuffle(c, d, 0, 4, 1, 5);
  hiCD = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(o0, i32x4.shuffle(loAB, loCD, 0, 1, 4, 5), 16);
  v128.store(o1, i32x4.shuffle(loAB, loCD, 2, 3, 6, 7), 16);
  v128.store(o2, i32x4.shuffle(hiAB, hiCD, 0, 1, 4, 5), 16);
  v128.store(o3, i32x4.shuffle(hiAB, hiCD, 2, 3, 6, 7), 16);
}

/** Lane k will hash `len` (0…1024) bytes at `ptr` as chunk number `counter`, output to `out`. */
function setLane(k: usize, ptr: usize, len: i32, counter: u64, root: u32, out: usize): void {
  const at = k << 2;
  store<u32>(L_PTR + at, <u32>ptr);
  store<i32>(L_LEN + at, len);
  store<u32>(L_CTR_LO + at, <u32>counter);
  store<u32>(L_CTR_HI + at, <u32>(counter >> 32));
  store<u32>(L_ROOT + at, root);
  store<u32>(L_OUT + at, <u32>out);
}

/**
 * Hashes lanes 0…active-1 (set by setLane) as chunks of any length up to 1024 bytes, each to its
 * chaining value (or, with ROOT, its hash). Lanes with fewer blocks sit out the later blocks.
 */
function runLanes(active: i32): void {
  const flagsMode = mode();
  initCV();
  let maxBlocks = 0;
  for (let k: usize = 0; k < 4; k++) {
    let blocks = 0;
    if (<i32>k < active) {
      const len = load<i32>(L_LEN + (k << 2));
      blocks = len === 0 ? 1 : (len + 63) >> 6;
    } else store<u32>(L_OUT + (k << 2), <u32>(DUMMY + (k << 5)));
    store<i32>(L_BLOCKS + (k << 2), blocks);
    if (blocks > maxBlocks) maxBlocks = blocks;
  }
  const counterLo = v128.load(L_CTR_LO);
  const counterHi = v128.load(L_CTR_HI);
  // Fast path: four inputs of the same non-zero length in whole blocks (e.g. a batch of 1 KiB or
  // 64-byte blobs): no padding, no masks, flags shared by all lanes except ROOT.
  const len0 = load<i32>(L_LEN, 0);
  if (
    active === 4 &&
    len0 > 0 &&
    (len0 & 63) === 0 &&
    load<i32>(L_LEN, 4) === len0 &&
    load<i32>(L_LEN, 8) === len0 &&
    load<i32>(L_LEN, 12) === len0
  ) {
    const p0 = <usize>load<u32>(L_PTR, 0);
    const p1 = <usize>load<u32>(L_PTR, 4);
    const p2 = <usize>load<u32>(L_PTR, 8);
    const p3 = <usize>load<u32>(L_PTR, 12);
    const blockLen = i32x4.splat(64);
    const all = i32x4.splat(-1);
    const last = <usize>(maxBlocks - 1) << 6;
    for (let at: usize = 0; at <= last; at += 64) {
      let flags = i32x4.splat(flagsMode | (at === 0 ? CHUNK_START : 0) | (at === last ? CHUNK_END : 0));
      if (at === last) flags = v128.or(flags, v128.load(L_ROOT));
      compress4(cvBase(), p0 + at, p1 + at, p2 + at, p3 + at, counterLo, counterHi, blockLen, flags, all);
    }
    storeLanes(load<u32>(L_OUT, 0), load<u32>(L_OUT, 4), load<u32>(L_OUT, 8), load<u32>(L_OUT, 12));
    return;
  }
  for (let b = 0; b < maxBlocks; b++) {
    for (let k: usize = 0; k < 4; k++) {
      const at = k << 2;
      const blocks = load<i32>(L_BLOCKS + at);
      let p: usize = PAD + (k << 6);
      let blockLen = 0;
      let flags: u32 = 0;
      let mask = 0;
      if (b < blocks) {
        const rest = load<i32>(L_LEN + at) - (b << 6);
        const src = <usize>load<u32>(L_PTR + at) + (<usize>b << 6);
        if (rest >= 64) {
          p = src;
          blockLen = 64;
        } else {
          memory.copy(p, src, rest);
          memory.fill(p + rest, 0, 64 - rest);
          blockLen = rest;
        }
        flags = flagsMode;
        if (b === 0) flags |= CHUNK_START;
        if (b === blocks - 1) flags |= CHUNK_END | load<u32>(L_ROOT + at);
        mask = -1;
      }
      store<u32>(B_PTR + at, <u32>p);
      store<i32>(B_LEN + at, blockLen);
      store<u32>(B_FLAGS + at, flags);
      store<i32>(B_MASK + at, mask);
    }
    compress4(
      cvBase(),
      load<u32>(B_PTR, 0),
      load<u32>(B_PTR, 4),
      load<u32>(B_PTR, 8),
      load<u32>(B_PTR, 12),
      counterLo,
      counterHi,
      v128.load(B_LEN),
      v128.load(B_FLAGS),
      v128.load(B_MASK),
    );
  }
  storeLanes(load<u32>(L_OUT, 0), load<u32>(L_OUT, 4), load<u32>(L_OUT, 8), load<u32>(L_OUT, 12));
}

/** Four whole consecutive chunks at `ptr`, numbered counter…counter+3, to four chaining values at `out`. */
function chunks4(ptr: usize, counter: u64, out: usize): void {
  const flagsMode = mode();
  initCV();
  let counterLo = i32x4.splat(<i32>counter);
  counterLo = i32x4.replace_lane(counterLo, 1, <i32>(counter + 1));
  counterLo = i32x4.replace_lane(counterLo, 2, <i32>(counter + 2));
  counterLo = i32x4.replace_lane(counterLo, 3, <i32>(counter + 3));
  let counterHi = i32x4.splat(<i32>(counter >> 32));
  counterHi = i32x4.replace_lane(counterHi, 1, <i32>((counter + 1) >> 32));
  counterHi = i32x4.replace_lane(counterHi, 2, <i32>((counter + 2) >> 32));
  counterHi = i32x4.replace_lane(counterHi, 3, <i32>((counter + 3) >> 32));
  const blockLen = i32x4.splat(64);
  const all = i32x4.splat(-1);
  compress4(cvBase(), ptr, ptr + 1024, ptr + 2048, ptr + 3072, counterLo, counterHi, blockLen, i32x4.splat(flagsMode | CHUNK_START), all);
  for (let b: usize = 64; b < 960; b += 64) {
    compress4(cvBase(), ptr + b, ptr + 1024 + b, ptr + 2048 + b, ptr + 3072 + b, counterLo, counterHi, blockLen, i32x4.splat(flagsMode), all);
  }
  compress4(cvBase(), ptr + 960, ptr + 1984, ptr + 3008, ptr + 4032, counterLo, counterHi, blockLen, i32x4.splat(flagsMode | CHUNK_END), all);
  storeLanes(out, out + 32, out + 64, out + 96);
}

/**
 * `n` (1…4) parent nodes: parent j's children are the 64 bytes at inp + 64j, its chaining value
 * goes to out + 32j. In place (out === inp) is fine: all inputs are read before any output is written.
 */
function parents4(inp: usize, out: usize, n: i32, root: u32): void {
  initCV();
  const zero = i32x4.splat(0);
  compress4(
    cvBase(),
    inp,
    n > 1 ? inp + 64 : inp,
    n > 2 ? inp + 128 : inp,
    n > 3 ? inp + 192 : inp,
    zero,
    zero,
    i32x4.splat(64),
    i32x4.splat(mode() | PARENT | root),
    i32x4.splat(-1),
  );
  storeLanes(out, n > 1 ? out + 32 : DUMMY + 32, n > 2 ? out + 64 : DUMMY + 64, n > 3 ? out + 96 : DUMMY + 96);
}

/** The chaining value of the complete subtree of `size` (a power of two ≤ MAX_SUBTREE) whole chunks at `ptr`. */
function subtree(ptr: usize, size: i32, counter: u64, out: usize): void {
  if (size < 4) {
    for (let k = 0; k < size; k++) setLane(k, ptr + (k << 10), CHUNK_LEN, counter + k, 0, size === 1 ? out : SUB + (k << 5));
    runLanes(size);
    if (size === 2) parents4(SUB, out, 1, 0);
    return;
  }
  for (let g = 0; g < size; g += 4) chunks4(ptr + (<usize>g << 10), counter + g, SUB + (<usize>g << 5));
  let m = size;
  while (m > 2) {
    const np = m >> 1;
    for (let g = 0; g < np; g += 4) parents4(SUB + (<usize>g << 6), SUB + (<usize>g << 5), min(4, np - g), 0);
    m = np;
  }
  parents4(SUB, out, 1, 0);
}

/**
 * Absorbs `chunks` whole chunks at `ptr` into the hasher state at STATE/STACK. The caller
 * guarantees more input follows them, so none of the nodes built here is the root.
 */
export function absorb(ptr: usize, chunks: i32): void {
  let stackLen = load<i32>(STATE, 0);
  let counter = load<u64>(STATE, 8);
  while (chunks > 0) {
    // The largest power-of-two run of chunks that fits, is aligned to the chunk count, and fits SUB.
    let size = 1 << (31 - clz(min(chunks, MAX_SUBTREE)));
    if (counter !== 0) {
      const align = counter & (~counter + 1);
      if (<u64>size > align) size = <i32>align;
    }
    subtree(ptr, size, counter, STACK + (<usize>stackLen << 5));
    stackLen++;
    counter += size;
    // One stack entry per set bit of the chunk count: merge equal-sized neighbours.
    while (<u64>stackLen > popcnt(counter)) {
      const at = STACK + (<usize>(stackLen - 2) << 5);
      parents4(at, at, 1, 0);
      stackLen--;
    }
    ptr += <usize>size << 10;
    chunks -= size;
  }
  store<i32>(STATE, stackLen, 0);
  store<u64>(STATE, counter, 8);
}

/**
 * Finishes the hasher state at STATE/STACK with the last chunk, `len` (0…1024) bytes at `ptr`,
 * and writes the 32-byte hash to `out`. Leaves the stored state as it was, apart from the stack area.
 */
export function finish(ptr: usize, len: i32, out: usize): void {
  let stackLen = load<i32>(STATE, 0);
  const counter = load<u64>(STATE, 8);
  if (stackLen === 0) {
    setLane(0, ptr, len, counter, ROOT, out);
    runLanes(1);
    return;
  }
  setLane(0, ptr, len, counter, 0, STACK + (<usize>stackLen << 5));
  runLanes(1);
  stackLen++;
  while (stackLen > 2) {
    const at = STACK + (<usize>(stackLen - 2) << 5);
    parents4(at, at, 1, 0);
    stackLen--;
  }
  parents4(STACK, out, 1, ROOT);
}

/** Hash of `len` bytes at `ptr` (any length that fits memory), to `out`. Resets the hasher state. */
export function hashOne(ptr: usize, len: i32, out: usize): void {
  store<i32>(STATE, 0, 0);
  store<u64>(STATE, 0, 8);
  if (len > CHUNK_LEN) {
    const whole = (len - 1) >> 10;
    absorb(ptr, whole);
    ptr += <usize>whole << 10;
    len -= whole << 10;
  }
  finish(ptr, len, out);
}

/**
 * Hashes `n` inputs in one call. `table` holds n pairs (u32 address, u32 length); hash i goes to
 * out + 32i. Inputs of at most one chunk are hashed four at a time, one per lane; longer ones after.
 */
export function hashBatch(table: usize, n: i32, out: usize): void {
  let lanes = 0;
  let large = 0;
  for (let i = 0; i < n; i++) {
    const at = table + (<usize>i << 3);
    const len = load<i32>(at, 4);
    if (len > CHUNK_LEN) large++;
    else {
      setLane(lanes, <usize>load<u32>(at, 0), len, 0, ROOT, out + (<usize>i << 5));
      lanes++;
      if (lanes === 4) {
        runLanes(4);
        lanes = 0;
      }
    }
  }
  if (lanes > 0) runLanes(lanes);
  for (let i = 0; large > 0 && i < n; i++) {
    const at = table + (<usize>i << 3);
    const len = load<i32>(at, 4);
    if (len > CHUNK_LEN) {
      hashOne(<usize>load<u32>(at, 0), len, out + (<usize>i << 5));
      large--;
    }
  }
}
