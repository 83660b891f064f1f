/**
 * Generates the WAT text of our ChaCha20-Poly1305 AEAD kernel (RFC 8439). Written from the RFC:
 * ChaCha20 keeps each block's state as four row vectors and runs two blocks interleaved (see
 * `chacha2`), and Poly1305 uses five 26-bit limbs with i64 products. The generator only unrolls
 * what would be tedious by hand (quarter rounds, the 5×5 limb product); build.ts assembles its
 * output with wabt.
 *
 * Memory layout (fixed, low addresses; callers place AAD and data from HEAP on):
 *   KEY      0   32-byte key           NONCE   32  12-byte nonce
 *   POLYKEY  64  one-time Poly1305 key (r ‖ s), 32 bytes
 *   TAG      96  computed tag (open)    PADBUF  112 16-byte block for padding / lengths
 *   SCRATCH  256 four keystream blocks (256 bytes)
 *   HEAP     1024
 */
export const LAYOUT = { KEY: 0, NONCE: 32, POLYKEY: 64, TAG: 96, PADBUF: 112, SCRATCH: 256, HEAP: 1024 } as const;
const { KEY, NONCE, POLYKEY, TAG, PADBUF, SCRATCH } = LAYOUT;

const lines: string[] = [];
const emit = (s: string) => lines.push(s);

// ---------------------------------------------------------------- ChaCha20, two blocks at a time

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

/** Byte shuffles that rotate every 32-bit lane left by 16 and by 8 bits (little-endian lanes). */
const ROT16 = "2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13";
const ROT8 = "3 0 1 2 7 4 5 6 11 8 9 10 15 12 13 14";

function rotl(v: string, n: number): string {
  if (n === 16) return `(local.set ${v} (i8x16.shuffle ${ROT16} (local.get ${v}) (local.get ${v})))`;
  if (n === 8) return `(local.set ${v} (i8x16.shuffle ${ROT8} (local.get ${v}) (local.get ${v})))`;
  return `(local.set ${v} (v128.or (i32x4.shl (local.get ${v}) (i32.const ${n})) (i32x4.shr_u (local.get ${v}) (i32.const ${32 - n}))))`;
}

/**
 * ChaCha20 row-wise: one block in four vectors, its rows a, b, c, d (row-major state words 0–3,
 * 4–7, 8–11, 12–15). A quarter round on the rows works on all four columns at once; rotating the
 * lanes of b, c and d by 1, 2 and 3 turns the diagonals into columns (and back). Two blocks are
 * interleaved step by step, so the core has two independent chains to overlap, and their eight
 * state vectors with the temporaries fit x86's sixteen vector registers: nothing spills. (The
 * earlier form, four blocks transposed into sixteen state vectors, spilled on every quarter round
 * and ran ~10% slower; one block alone leaves the core idle, four spill again.)
 */
const BLOCKS = [0, 1];
const rows = (k: number) => ["a", "b", "c", "d"].map((r) => `$${r}${k}`) as [string, string, string, string];
/** Lane rotations left by 1, 2 and 3 words. */
const TURN: Record<number, string> = {
  1: "4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3",
  2: "8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7",
  3: "12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11",
};

/** The four steps of a quarter round on block k's rows, each a few statements. */
function quarterRoundSteps(k: number): string[][] {
  const [a, b, c, d] = rows(k);
  const add = (p: string, q: string) => `(local.set ${p} (i32x4.add (local.get ${p}) (local.get ${q})))`;
  const xor = (p: string, q: string) => `(local.set ${p} (v128.xor (local.get ${p}) (local.get ${q})))`;
  return [
    [add(a, b), xor(d, a), rotl(d, 16)],
    [add(c, d), xor(b, c), rotl(b, 12)],
    [add(a, b), xor(d, a), rotl(d, 8)],
    [add(c, d), xor(b, c), rotl(b, 7)],
  ];
}

/** Turns block k's diagonals into columns (or, with `back`, the columns back into rows). */
function turnRows(k: number, back: boolean): string[] {
  const [, b, c, d] = rows(k);
  const turn = (v: string, n: number) => `(local.set ${v} (i8x16.shuffle ${TURN[back ? 4 - n : n]} (local.get ${v}) (local.get ${v})))`;
  return [turn(b, 1), turn(c, 2), turn(d, 3)];
}

/** The initial rows of block k (counter $ctr + k). Row d reads the last key word with the nonce and replaces it. */
function initialRows(k: number): string[] {
  return [
    `(v128.const i32x4 ${SIGMA.join(" ")})`,
    `(v128.load offset=${KEY} (i32.const 0))`,
    `(v128.load offset=${KEY + 16} (i32.const 0))`,
    `(i32x4.replace_lane 0 (v128.load offset=${NONCE - 4} (i32.const 0)) (i32.add (local.get $ctr) (i32.const ${k})))`,
  ];
}

/** `$chacha2(ctr, out, in)`: blocks ctr and ctr+1; writes in[0..128) XOR keystream to out[0..128). */
function chacha2(): void {
  const locals = BLOCKS.flatMap((k) => rows(k).map((r) => `(local ${r} v128)`)).join(" ");
  emit(`(func $chacha2 (param $ctr i32) (param $out i32) (param $in i32) (local $round i32) ${locals}`);
  for (const k of BLOCKS) for (const [i, v] of initialRows(k).entries()) emit(`(local.set ${rows(k)[i]} ${v})`);
  emit(`(local.set $round (i32.const 10))`);
  emit(`(loop $rounds`);
  for (const back of [false, true]) {
    // A column round (then a diagonal round) on both blocks, interleaved step by step.
    const steps = BLOCKS.map(quarterRoundSteps);
    for (let i = 0; i < 4; i++) for (const k of BLOCKS) for (const st of steps[k]![i]!) emit(st);
    for (const k of BLOCKS) for (const st of turnRows(k, back)) emit(st);
  }
  emit(`(br_if $rounds (local.tee $round (i32.sub (local.get $round) (i32.const 1))))`);
  emit(`)`);
  // Add the initial state; the rows are the block's bytes in order, so no transpose is needed.
  for (const k of BLOCKS) {
    initialRows(k).forEach((v, i) => {
      const off = 64 * k + 16 * i;
      emit(`(v128.store offset=${off} (local.get $out) (v128.xor (v128.load offset=${off} (local.get $in)) (i32x4.add (local.get ${rows(k)[i]}) ${v})))`);
    });
  }
  emit(`)`);
}

/**
 * `$chacha4(ctr, out, in)`: four ChaCha20 blocks with counters ctr..ctr+3; writes
 * in[0..256) XOR keystream to out[0..256). With in = zeros it yields the raw keystream.
 */
function chacha4(): void {
  emit(`(func $chacha4 (param $ctr i32) (param $out i32) (param $in i32)`);
  emit(`(call $chacha2 (local.get $ctr) (local.get $out) (local.get $in))`);
  emit(`(call $chacha2 (i32.add (local.get $ctr) (i32.const 2)) (i32.add (local.get $out) (i32.const 128)) (i32.add (local.get $in) (i32.const 128))))`);
  chacha2();
}

/**
 * `$xor_stream(p, len, ctr)`: XORs len bytes at p with the keystream from block ctr on, in place.
 * Whole 256-byte groups go through $chacha4 directly; the tail through SCRATCH.
 */
function xorStream(): void {
  emit(`(func $xor_stream (param $p i32) (param $len i32) (param $ctr i32) (local $end i32)`);
  emit(`(local.set $end (i32.add (local.get $p) (local.get $len)))`);
  emit(`(block $done (loop $groups`);
  emit(`  (br_if $done (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 256)))`);
  emit(`  (call $chacha4 (local.get $ctr) (local.get $p) (local.get $p))`);
  emit(`  (local.set $p (i32.add (local.get $p) (i32.const 256)))`);
  emit(`  (local.set $ctr (i32.add (local.get $ctr) (i32.const 4)))`);
  emit(`  (br $groups)))`);
  emit(`(if (i32.lt_u (local.get $p) (local.get $end)) (then`);
  emit(`  (call $zero_scratch)`);
  emit(`  (call $chacha4 (local.get $ctr) (i32.const ${SCRATCH}) (i32.const ${SCRATCH}))`);
  emit(`  (call $xor_bytes (local.get $p) (i32.const ${SCRATCH}) (i32.sub (local.get $end) (local.get $p)))))`);
  emit(`)`);
  emit(`(func $zero_scratch (memory.fill (i32.const ${SCRATCH}) (i32.const 0) (i32.const 256)))`);
  // dst[0..n) ^= src[0..n), 16 bytes at a time then byte by byte.
  emit(`(func $xor_bytes (param $dst i32) (param $src i32) (param $n i32)`);
  emit(`(block $d16 (loop $l16`);
  emit(`  (br_if $d16 (i32.lt_u (local.get $n) (i32.const 16)))`);
  emit(`  (v128.store (local.get $dst) (v128.xor (v128.load (local.get $dst)) (v128.load (local.get $src))))`);
  emit(`  (local.set $dst (i32.add (local.get $dst) (i32.const 16))) (local.set $src (i32.add (local.get $src) (i32.const 16)))`);
  emit(`  (local.set $n (i32.sub (local.get $n) (i32.const 16))) (br $l16)))`);
  emit(`(block $d1 (loop $l1`);
  emit(`  (br_if $d1 (i32.eqz (local.get $n)))`);
  emit(`  (i32.store8 (local.get $dst) (i32.xor (i32.load8_u (local.get $dst)) (i32.load8_u (local.get $src))))`);
  emit(`  (local.set $dst (i32.add (local.get $dst) (i32.const 1))) (local.set $src (i32.add (local.get $src) (i32.const 1)))`);
  emit(`  (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $l1)))`);
  emit(`)`);
}

// ---------------------------------------------------------------- Poly1305, 26-bit limbs

const M26 = "(i64.const 0x3ffffff)";
const h = (i: number) => `$h${i}`;

/** Globals: accumulator h0..h4 and key limbs r0..r4 (s_i = 5·r_i recomputed per call). */
function polyGlobals(): void {
  for (let i = 0; i < 5; i++) emit(`(global $gh${i} (mut i64) (i64.const 0))`);
  for (let i = 0; i < 5; i++) emit(`(global $gr${i} (mut i64) (i64.const 0))`);
}

/** `$poly_init(k)`: clamps r = k[0..16) into limbs, clears h. */
function polyInit(): void {
  emit(`(func $poly_init (param $k i32) (local $lo i64) (local $hi i64)`);
  emit(`(local.set $lo (i64.and (i64.load (local.get $k)) (i64.const 0x0ffffffc0fffffff)))`);
  emit(`(local.set $hi (i64.and (i64.load offset=8 (local.get $k)) (i64.const 0x0ffffffc0ffffffc)))`);
  emit(`(global.set $gr0 (i64.and (local.get $lo) ${M26}))`);
  emit(`(global.set $gr1 (i64.and (i64.shr_u (local.get $lo) (i64.const 26)) ${M26}))`);
  emit(`(global.set $gr2 (i64.and (i64.or (i64.shr_u (local.get $lo) (i64.const 52)) (i64.shl (local.get $hi) (i64.const 12))) ${M26}))`);
  emit(`(global.set $gr3 (i64.and (i64.shr_u (local.get $hi) (i64.const 14)) ${M26}))`);
  emit(`(global.set $gr4 (i64.shr_u (local.get $hi) (i64.const 40)))`);
  for (let i = 0; i < 5; i++) emit(`(global.set $gh${i} (i64.const 0))`);
  emit(`)`);
}

const POLY_LOCALS = [
  "(local $lo i64) (local $hi i64) (local $c i64)",
  ...Array.from({ length: 5 }, (_, i) => `(local $h${i} i64) (local $r${i} i64) (local $d${i} i64)`),
  "(local $s1 i64) (local $s2 i64) (local $s3 i64) (local $s4 i64)",
].join(" ");

/** Loads h, r and s = 5·r from the globals into locals. */
function polyLoad(): void {
  for (let i = 0; i < 5; i++) emit(`(local.set ${h(i)} (global.get $gh${i}))`);
  for (let i = 0; i < 5; i++) emit(`(local.set $r${i} (global.get $gr${i}))`);
  for (let i = 1; i < 5; i++) emit(`(local.set $s${i} (i64.mul (local.get $r${i}) (i64.const 5)))`);
}

function polyStore(): void {
  for (let i = 0; i < 5; i++) emit(`(global.set $gh${i} (local.get ${h(i)}))`);
}

/** Statements absorbing the 16-byte block at ptr+offset into h: h = (h + m + hibit·2^128)·r mod 2^130-5. */
function polyBlock(ptr: string, offset: number, hibit: string): string[] {
  const out: string[] = [];
  out.push(`(local.set $lo (i64.load offset=${offset} ${ptr}))`, `(local.set $hi (i64.load offset=${offset + 8} ${ptr}))`);
  const addTo = (i: number, v: string) => out.push(`(local.set ${h(i)} (i64.add (local.get ${h(i)}) ${v}))`);
  addTo(0, `(i64.and (local.get $lo) ${M26})`);
  addTo(1, `(i64.and (i64.shr_u (local.get $lo) (i64.const 26)) ${M26})`);
  addTo(2, `(i64.and (i64.or (i64.shr_u (local.get $lo) (i64.const 52)) (i64.shl (local.get $hi) (i64.const 12))) ${M26})`);
  addTo(3, `(i64.and (i64.shr_u (local.get $hi) (i64.const 14)) ${M26})`);
  addTo(4, `(i64.or (i64.shr_u (local.get $hi) (i64.const 40)) ${hibit})`);
  // d_k = Σ_{i+j=k} h_i·r_j + Σ_{i+j=k+5} h_i·5·r_j (2^130 ≡ 5 mod p), plus the carry out of
  // d_{k-1}: each d_k is summed right where it is used, so few products are live at once.
  for (let k = 0; k < 5; k++) {
    const terms: string[] = [];
    for (let i = 0; i < 5; i++) {
      const j = k - i;
      const rj = j >= 0 ? `$r${j}` : `$s${j + 5}`;
      terms.push(`(i64.mul (local.get ${h(i)}) (local.get ${rj}))`);
    }
    // A running sum: one product is consumed as soon as it is made.
    let sum = terms.shift()!;
    for (const t of terms) sum = `(i64.add ${sum} ${t})`;
    if (k > 0) sum = `(i64.add ${sum} (i64.shr_u (local.get $d${k - 1}) (i64.const 26)))`;
    out.push(`(local.set $d${k} ${sum})`);
  }
  for (let k = 0; k < 5; k++) out.push(`(local.set ${h(k)} (i64.and (local.get $d${k}) ${M26}))`);
  // h0 += 5·(d4 >> 26); one more carry into h1 (which may then exceed 2^26 slightly; the next
  // block's products tolerate it).
  out.push(`(local.set $c (i64.shr_u (local.get $d4) (i64.const 26)))`);
  out.push(`(local.set ${h(0)} (i64.add (local.get ${h(0)}) (i64.add (local.get $c) (i64.shl (local.get $c) (i64.const 2)))))`);
  out.push(`(local.set ${h(1)} (i64.add (local.get ${h(1)}) (i64.shr_u (local.get ${h(0)}) (i64.const 26))))`);
  out.push(`(local.set ${h(0)} (i64.and (local.get ${h(0)}) ${M26}))`);
  return out;
}

const HIBIT = "(i64.const 0x1000000)";

/** `$poly_blocks(p, n, hibit)`: absorbs n 16-byte blocks at p; hibit is 1<<24 for full blocks. */
function polyBlocks(): void {
  emit(`(func $poly_blocks (param $p i32) (param $n i32) (param $hibit i64) ${POLY_LOCALS}`);
  polyLoad();
  emit(`(block $done (loop $blocks`);
  emit(`(br_if $done (i32.eqz (local.get $n)))`);
  for (const st of polyBlock("(local.get $p)", 0, "(local.get $hibit)")) emit(st);
  emit(`(local.set $p (i32.add (local.get $p) (i32.const 16)))`);
  emit(`(local.set $n (i32.sub (local.get $n) (i32.const 1)))`);
  emit(`(br $blocks)))`);
  polyStore();
  emit(`)`);
}

/** `$poly_padded(p, len)`: absorbs len bytes, zero-padded to a multiple of 16 (RFC 8439 §2.8). */
function polyPadded(): void {
  emit(`(func $poly_padded (param $p i32) (param $len i32) (local $full i32)`);
  emit(`(local.set $full (i32.and (local.get $len) (i32.const -16)))`);
  emit(`(call $poly_blocks (local.get $p) (i32.shr_u (local.get $len) (i32.const 4)) (i64.const 0x1000000))`);
  emit(`(if (i32.and (local.get $len) (i32.const 15)) (then`);
  emit(`  (v128.store (i32.const ${PADBUF}) (v128.const i64x2 0 0))`);
  emit(`  (memory.copy (i32.const ${PADBUF}) (i32.add (local.get $p) (local.get $full)) (i32.and (local.get $len) (i32.const 15)))`);
  emit(`  (call $poly_blocks (i32.const ${PADBUF}) (i32.const 1) (i64.const 0x1000000))))`);
  emit(`)`);
}

/** `$poly_finish(s, out)`: fully reduces h mod 2^130-5, adds s = 16 bytes at s, writes the tag to out. */
function polyFinish(): void {
  emit(`(func $poly_finish (param $s i32) (param $out i32) (local $c i64) (local $mask i64) (local $lo i64) (local $hi i64) (local $t i64)`);
  for (let i = 0; i < 5; i++) emit(`(local $h${i} i64) (local $g${i} i64)`);
  for (let i = 0; i < 5; i++) emit(`(local.set ${h(i)} (global.get $gh${i}))`);
  const carry = (from: string, to: string, mul5 = false) => {
    emit(`(local.set $c (i64.shr_u (local.get ${from}) (i64.const 26)))`);
    emit(`(local.set ${from} (i64.and (local.get ${from}) ${M26}))`);
    emit(`(local.set ${to} (i64.add (local.get ${to}) ${mul5 ? "(i64.mul (local.get $c) (i64.const 5))" : "(local.get $c)"}))`);
  };
  // Full carry chain: h1..h4, around through h0 (×5), then h0..h3 again. Afterwards h0..h3 < 2^26
  // and h4 <= 2^26 (h4 = 2^26 means h >= p, and then g below is chosen).
  carry(h(1), h(2));
  carry(h(2), h(3));
  carry(h(3), h(4));
  carry(h(4), h(0), true);
  carry(h(0), h(1));
  carry(h(1), h(2));
  carry(h(2), h(3));
  carry(h(3), h(4));
  // g = h + 5 - 2^130; if g does not go negative then h >= p and the result is g.
  emit(`(local.set $g0 (i64.add (local.get $h0) (i64.const 5)))`);
  for (let i = 0; i < 4; i++) {
    emit(`(local.set $c (i64.shr_u (local.get $g${i}) (i64.const 26)))`);
    emit(`(local.set $g${i} (i64.and (local.get $g${i}) ${M26}))`);
    emit(`(local.set $g${i + 1} (i64.add (local.get $h${i + 1}) (local.get $c)))`);
  }
  emit(`(local.set $g4 (i64.sub (local.get $g4) (i64.const 0x4000000)))`);
  // mask = all ones when g4 >= 0 (take g), zero when negative (keep h); no branch.
  emit(`(local.set $mask (i64.xor (i64.shr_s (local.get $g4) (i64.const 63)) (i64.const -1)))`);
  for (let i = 0; i < 5; i++) {
    emit(
      `(local.set ${h(i)} (i64.or (i64.and (local.get $g${i}) (local.get $mask)) (i64.and (local.get ${h(i)}) (i64.xor (local.get $mask) (i64.const -1)))))`,
    );
  }
  emit(`(local.set ${h(4)} (i64.and (local.get ${h(4)}) ${M26}))`);
  emit(
    `(local.set $lo (i64.or (i64.or (local.get $h0) (i64.shl (local.get $h1) (i64.const 26))) (i64.shl (local.get $h2) (i64.const 52))))`,
  );
  emit(
    `(local.set $hi (i64.or (i64.or (i64.shr_u (local.get $h2) (i64.const 12)) (i64.shl (local.get $h3) (i64.const 14))) (i64.shl (local.get $h4) (i64.const 40))))`,
  );
  emit(`(local.set $t (i64.add (local.get $lo) (i64.load (local.get $s))))`);
  emit(`(local.set $hi (i64.add (i64.add (local.get $hi) (i64.load offset=8 (local.get $s))) (i64.extend_i32_u (i64.lt_u (local.get $t) (local.get $lo)))))`);
  emit(`(i64.store (local.get $out) (local.get $t))`);
  emit(`(i64.store offset=8 (local.get $out) (local.get $hi))`);
  emit(`)`);
}

// ---------------------------------------------------------------- AEAD entry points

function aead(): void {
  // One-time Poly1305 key from block 0 (RFC 8439 §2.6); the same call leaves blocks 1..3 in
  // SCRATCH+64, the keystream of the first 192 bytes.
  emit(`(func $keygen`);
  emit(`(call $zero_scratch)`);
  emit(`(call $chacha4 (i32.const 0) (i32.const ${SCRATCH}) (i32.const ${SCRATCH}))`);
  emit(`(memory.copy (i32.const ${POLYKEY}) (i32.const ${SCRATCH}) (i32.const 32))`);
  emit(`(call $poly_init (i32.const ${POLYKEY})))`);
  // Absorbs le64(adLen) ‖ le64(len) and writes the tag to out.
  emit(`(func $finish (param $adLen i32) (param $len i32) (param $out i32)`);
  emit(`(i64.store (i32.const ${PADBUF}) (i64.extend_i32_u (local.get $adLen)))`);
  emit(`(i64.store (i32.const ${PADBUF + 8}) (i64.extend_i32_u (local.get $len)))`);
  emit(`(call $poly_blocks (i32.const ${PADBUF}) (i32.const 1) ${HIBIT})`);
  emit(`(call $poly_finish (i32.const ${POLYKEY + 16}) (local.get $out)))`);
  const min192 = "(select (local.get $len) (i32.const 192) (i32.lt_u (local.get $len) (i32.const 192)))";
  const set = (v: string, e: string) => emit(`(local.set $${v} ${e})`);
  const get = (v: string) => `(local.get $${v})`;
  const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
  const c = (n: number) => `(i32.const ${n})`;

  // Decrypts or encrypts p[0..len) in place: the first 192 bytes with the keystream $keygen left
  // in SCRATCH+64, the rest from block 4 on.
  emit(`(func $crypt (param $p i32) (param $len i32)`);
  emit(`(call $xor_bytes ${get("p")} ${c(SCRATCH + 64)} ${min192})`);
  emit(`(if (i32.gt_u ${get("len")} ${c(192)}) (then`);
  emit(`(call $xor_stream ${add(get("p"), c(192))} (i32.sub ${get("len")} ${c(192)}) ${c(4)}))))`);

  // seal: encrypts p[0..len) in place and writes the tag at p+len.
  emit(`(func (export "seal") (param $ad i32) (param $adLen i32) (param $p i32) (param $len i32)`);
  emit(`(call $keygen)`);
  emit(`(call $crypt ${get("p")} ${get("len")})`);
  emit(`(call $poly_padded ${get("ad")} ${get("adLen")})`);
  emit(`(call $poly_padded ${get("p")} ${get("len")})`);
  emit(`(call $finish ${get("adLen")} ${get("len")} ${add(get("p"), get("len"))}))`);

  // open: checks the tag at p+len against the computed one in constant time; only when it matches
  // decrypts p[0..len) in place and returns 1 (else 0, leaving the ciphertext as it was).
  emit(`(func (export "open") (param $ad i32) (param $adLen i32) (param $p i32) (param $len i32) (result i32) (local $t i32)`);
  emit(`(call $keygen)`);
  emit(`(call $poly_padded ${get("ad")} ${get("adLen")})`);
  emit(`(call $poly_padded ${get("p")} ${get("len")})`);
  emit(`(call $finish ${get("adLen")} ${get("len")} ${c(TAG)})`);
  set("t", add(get("p"), get("len")));
  emit(
    `(if (i64.ne (i64.or (i64.xor (i64.load ${c(TAG)}) (i64.load ${get("t")})) (i64.xor (i64.load ${c(TAG + 8)}) (i64.load offset=8 ${get("t")}))) (i64.const 0)) (then (return ${c(0)})))`,
  );
  emit(`(call $crypt ${get("p")} ${get("len")})`);
  emit(`${c(1)})`);
  // Raw primitives, for the RFC 8439 test vectors.
  emit(`(func (export "chacha20_xor") (param $p i32) (param $len i32) (param $ctr i32)`);
  emit(`(call $xor_stream (local.get $p) (local.get $len) (local.get $ctr)))`);
  // poly1305(key at KEY, msg at p): tag to TAG. The last partial block gets its 0x01 byte, no hibit.
  emit(`(func (export "poly1305") (param $p i32) (param $len i32) (local $rest i32)`);
  emit(`(call $poly_init (i32.const ${KEY}))`);
  emit(`(call $poly_blocks (local.get $p) (i32.shr_u (local.get $len) (i32.const 4)) (i64.const 0x1000000))`);
  emit(`(local.set $rest (i32.and (local.get $len) (i32.const 15)))`);
  emit(`(if (local.get $rest) (then`);
  emit(`  (v128.store (i32.const ${PADBUF}) (v128.const i64x2 0 0))`);
  emit(`  (memory.copy (i32.const ${PADBUF}) (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -16))) (local.get $rest))`);
  emit(`  (i32.store8 (i32.add (i32.const ${PADBUF}) (local.get $rest)) (i32.const 1))`);
  emit(`  (call $poly_blocks (i32.const ${PADBUF}) (i32.const 1) (i64.const 0))))`);
  emit(`(call $poly_finish (i32.const ${KEY + 16}) (i32.const ${TAG}))`);
  emit(`)`);
}

/** The whole module as WAT text. */
export function kernelWat(): string {
  lines.length = 0;
  emit(`;; ChaCha20-Poly1305 (RFC 8439) — generated by wasm/chacha20poly1305/kernel.ts; do not edit.`);
  emit(`(module`);
  emit(`(memory (export "memory") 3)`);
  polyGlobals();
  chacha4();
  xorStream();
  polyInit();
  polyBlocks();
  polyPadded();
  polyFinish();
  aead();
  emit(`)`);
  return lines.join("\n");
}
