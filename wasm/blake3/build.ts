/**
 * Builds our BLAKE3 kernel (`npm run build:wasm`).
 *
 * 1. Generates `assembly/compress.ts`: the compression function for four independent states at
 *    once, one per i32x4 lane, with the seven rounds unrolled and the message schedule resolved at
 *    generation time (no permutation work at run time).
 * 2. Compiles `assembly/index.ts` with AssemblyScript (SIMD128 on, no runtime, no allocator).
 * 3. Writes `blake3.wasm` and `blake3.wasm.ts`, which embeds the same bytes as base64 so the kernel
 *    is compiled from memory at import time (works inside a `bun build --compile` executable).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLUMNS_THEN_DIAGONALS, type Quad } from "../arx.ts";
import { writeEmbedded } from "../embed.ts";

const dir = import.meta.dir;

// --- 1. generated compression function ------------------------------------------------------

// BLAKE3 message permutation (spec §2.2): after each round, word i of the new schedule is word
// PERMUTATION[i] of the old one.
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const ROUNDS = 7;
/**
 * The transposed message (16 × v128) and the state (16 × v128) of the compressions in flight live
 * at these offsets from \`cv\`. Addressing them from a parameter (not absolute constants) lets
 * JavaScriptCore fold the offsets into the instructions instead of materialising every address.
 */
const MSG_OFFSET = 128;
const ST_OFFSET = 384;
const ROTR16_BYTES = "2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13";
const ROTR8_BYTES = "1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12";

/**
 * Rotations, chosen for what JavaScriptCore's WASM compiler emits on x86: byte shuffles (one
 * pshufb) are cheap; every shift by a constant costs four instructions (the count is masked and
 * moved into a vector register each time). So 16 and 8 are shuffles; 7 is a shuffle by 8 and a
 * rotate left by 1 (x + x, plus the carried-out top bit taken from a signed compare); 12 is two shifts.
 */
function rotr(v: string, n: number): string[] {
  if (n === 16) return [`${v} = i8x16.shuffle(${v}, ${v}, ${ROTR16_BYTES});`];
  if (n === 8) return [`${v} = i8x16.shuffle(${v}, ${v}, ${ROTR8_BYTES});`];
  if (n === 7) {
    return [
      `${v} = i8x16.shuffle(${v}, ${v}, ${ROTR8_BYTES});`,
      `${v} = i32x4.sub(i32x4.add(${v}, ${v}), i32x4.lt_s(${v}, i32x4.splat(0)));`,
    ];
  }
  return [`${v} = v128.or(i32x4.shr_u(${v}, ${n}), i32x4.shl(${v}, ${32 - n}));`];
}

/**
 * One G application. The state lives in memory (cv + ST_OFFSET) and each G loads and stores its four words:
 * sixteen state vectors plus temporaries do not fit x86's sixteen vector registers, and explicit
 * loads/stores beat the register allocator's spills. The message words come from cv + MSG_OFFSET.
 */
function g([ia, ib, ic, id]: Quad, x: number, y: number): string[] {
  const m = (i: number) => `v128.load(cv, ${MSG_OFFSET + 16 * i})`;
  return [
    `a = v128.load(cv, ${ST_OFFSET + 16 * ia});`,
    `b = v128.load(cv, ${ST_OFFSET + 16 * ib});`,
    `c = v128.load(cv, ${ST_OFFSET + 16 * ic});`,
    `d = v128.load(cv, ${ST_OFFSET + 16 * id});`,
    `a = i32x4.add(i32x4.add(a, b), ${m(x)});`,
    "d = v128.xor(d, a);",
    ...rotr("d", 16),
    "c = i32x4.add(c, d);",
    "b = v128.xor(b, c);",
    ...rotr("b", 12),
    `a = i32x4.add(i32x4.add(a, b), ${m(y)});`,
    "d = v128.xor(d, a);",
    ...rotr("d", 8),
    "c = i32x4.add(c, d);",
    "b = v128.xor(b, c);",
    ...rotr("b", 7),
    `v128.store(cv, a, ${ST_OFFSET + 16 * ia});`,
    `v128.store(cv, b, ${ST_OFFSET + 16 * ib});`,
    `v128.store(cv, c, ${ST_OFFSET + 16 * ic});`,
    `v128.store(cv, d, ${ST_OFFSET + 16 * id});`,
  ];
}

function generateCompress(): string {
  const body: string[] = [];
  // Transpose: lane k's block is 64 bytes at p_k; word w of lane k goes to lane k of message word w.
  for (let j = 0; j < 4; j++) {
    body.push(
      `a = v128.load(p0, ${16 * j});`,
      `b = v128.load(p1, ${16 * j});`,
      `c = v128.load(p2, ${16 * j});`,
      `d = v128.load(p3, ${16 * j});`,
      "loAB = i32x4.shuffle(a, b, 0, 4, 1, 5);",
      "hiAB = i32x4.shuffle(a, b, 2, 6, 3, 7);",
      "loCD = i32x4.shuffle(c, d, 0, 4, 1, 5);",
      "hiCD = i32x4.shuffle(c, d, 2, 6, 3, 7);",
      `v128.store(cv, i32x4.shuffle(loAB, loCD, 0, 1, 4, 5), ${MSG_OFFSET + 16 * (4 * j)});`,
      `v128.store(cv, i32x4.shuffle(loAB, loCD, 2, 3, 6, 7), ${MSG_OFFSET + 16 * (4 * j + 1)});`,
      `v128.store(cv, i32x4.shuffle(hiAB, hiCD, 0, 1, 4, 5), ${MSG_OFFSET + 16 * (4 * j + 2)});`,
      `v128.store(cv, i32x4.shuffle(hiAB, hiCD, 2, 3, 6, 7), ${MSG_OFFSET + 16 * (4 * j + 3)});`,
    );
  }
  for (let i = 0; i < 8; i++) body.push(`v128.store(cv, v128.load(cv, ${16 * i}), ${ST_OFFSET + 16 * i});`);
  for (let i = 0; i < 4; i++) body.push(`v128.store(cv, i32x4.splat(IV${i}), ${ST_OFFSET + 16 * (8 + i)});`);
  for (const [i, v] of ["counterLo", "counterHi", "blockLen", "flags"].entries()) body.push(`v128.store(cv, ${v}, ${ST_OFFSET + 16 * (12 + i)});`);
  let schedule = Array.from({ length: 16 }, (_, i) => i);
  for (let r = 0; r < ROUNDS; r++) {
    body.push(`// round ${r}`);
    for (const [k, indices] of COLUMNS_THEN_DIAGONALS.entries()) body.push(...g(indices, schedule[2 * k]!, schedule[2 * k + 1]!));
    schedule = PERMUTATION.map((i) => schedule[i]!);
  }
  // Output chaining value: first half of the state xor second half; lanes outside `mask` keep theirs.
  for (let i = 0; i < 8; i++) {
    body.push(
      `v128.store(cv, v128.bitselect(v128.xor(v128.load(cv, ${ST_OFFSET + 16 * i}), v128.load(cv, ${ST_OFFSET + 16 * (i + 8)})), v128.load(cv, ${16 * i}), mask), ${16 * i});`,
    );
  }
  return `// @ts-nocheck: AssemblyScript source (compiled by asc, not tsc)
// GENERATED by wasm/blake3/build.ts — do not edit by hand.
import { IV0, IV1, IV2, IV3 } from "./constants";


/**
 * Four BLAKE3 compressions at once, one per i32x4 lane. Lane k compresses the 64-byte block at
 * \`p<k>\`; the input chaining values are transposed at \`cv\` (word w of all lanes = 16 bytes at
 * cv + 16w) and the output chaining values replace them there, in lanes set in \`mask\`.
 */
export function compress4(
  cv: usize, p0: usize, p1: usize, p2: usize, p3: usize,
  counterLo: v128, counterHi: v128, blockLen: v128, flags: v128, mask: v128,
): void {
  let a: v128, b: v128, c: v128, d: v128, loAB: v128, hiAB: v128, loCD: v128, hiCD: v128;
  ${body.join("\n  ")}
}
`;
}

writeFileSync(join(dir, "assembly", "compress.ts"), generateCompress());

// --- 2. compile ----------------------------------------------------------------------------------

const asc = join(dir, "..", "..", "node_modules", ".bin", "asc");
const wasmPath = join(dir, "blake3.wasm");
const scratch = mkdtempSync(join(tmpdir(), "blake3-build-"));
const watPath = join(scratch, "blake3.wat");
const args = [
  join(dir, "assembly", "index.ts"),
  "-O3",
  "--runtime",
  "stub",
  "--noAssert",
  "--disableWarning",
  "112",
  "--enable",
  "simd",
  "--initialMemory",
  "2",
  "--outFile",
  wasmPath,
  "--textFile",
  watPath,
];
const proc = Bun.spawnSync([asc, ...args], { stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) process.exit(proc.exitCode ?? 1);

// The kernel keeps its scratch space at fixed addresses from SCRATCH (see assembly/layout.ts);
// AssemblyScript's static data must end below it.
const wat = readFileSync(watPath, "utf8");
rmSync(scratch, { recursive: true, force: true });
if (/\(data /.test(wat)) throw new Error("blake3 kernel has static data; move SCRATCH above it");

// --- 3. embed ------------------------------------------------------------------------------------

const bytes = readFileSync(wasmPath);
writeEmbedded(
  join(dir, "blake3.wasm.ts"),
  "BLAKE3_WASM_BASE64",
  bytes,
  `// GENERATED by wasm/blake3/build.ts from wasm/blake3/assembly — do not edit by hand.
/** Our BLAKE3 WebAssembly kernel (${bytes.length} bytes), base64. */`,
);
console.log(`wasm/blake3: ${bytes.length} bytes`);
