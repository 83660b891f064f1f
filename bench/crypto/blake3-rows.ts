/**
 * BLAKE3 rows of the crypto table: our module (our WASM SIMD kernel) against blake3-wasm (the
 * fastest WASM BLAKE3 in the registry: the reference of the 1 MiB target), hash-wasm (the WASM
 * build we used before: the reference of the batch targets), @noble/hashes, @napi-rs/blake-hash and
 * native `b3sum --num-threads 1`, on the same inputs in the same run. The native b3sum value is in
 * the table for the DESIGN target (≥ 0.5× native).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 as napiBlake3 } from "@napi-rs/blake-hash";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { hash as blake3WasmHash, load as loadBlake3Wasm } from "blake3-wasm";
import { createBLAKE3 } from "hash-wasm";
import { hash, hashMany } from "../../src/core/blake3.ts";
import { type BenchRow, median } from "../lib.ts";
import { eachOf, interleaved, MB } from "./common.ts";

const hashWasm = await createBLAKE3(256);
function hashWasmBlake3(bytes: Uint8Array): Uint8Array {
  hashWasm.init();
  hashWasm.update(bytes);
  return hashWasm.digest("binary");
}

// blake3-wasm 3.0.0 names @c4312/blake3-internal 2.1.7, which was never published: package.json
// overrides it with 3.0.0, the version the package was built against.
await loadBlake3Wasm();

const OURS = "tribles (src/core/blake3)";
const REFERENCE = "hash-wasm";
const BLAKE3_WASM = "blake3-wasm";

export function blake3Rows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const big = crypto.getRandomValues(new Uint8Array(1 << 20));
  const kib = Array.from({ length: 4096 }, () => crypto.getRandomValues(new Uint8Array(1024)));
  const tiny = Array.from({ length: 16384 }, () => crypto.getRandomValues(new Uint8Array(64)));

  const row = (name: string, impl: string, value: number, unit: string, target?: string, reference = REFERENCE) =>
    rows.push({ name, impl, value, unit, ...(impl === reference ? {} : { referenceImpl: reference }), ...(target ? { target } : {}) });

  /** One row group: every implementation timed in alternating rounds (see `interleaved`). */
  const group = (name: string, unit: string, units: number, reference: string, entries: [impl: string, fn: () => void, target?: string][]) => {
    const values = interleaved(
      units,
      entries.map(([impl, fn]) => ({ impl, fn })),
    );
    for (const [impl, , target] of entries) row(name, impl, values.get(impl)!, unit, target, reference);
  };

  // 1 MiB: ratios against blake3-wasm, the reference for this target.
  const MIB = "BLAKE3 1 MiB";
  group(MIB, "MB/s", big.length / MB, BLAKE3_WASM, [
    [OURS, () => hash(big), "≥ 1500 MB/s, ≥ 2× blake3-wasm, ≥ 0.5× native"],
    [BLAKE3_WASM, () => blake3WasmHash(big)],
    [REFERENCE, () => hashWasmBlake3(big)],
    ["@noble/hashes", () => nobleBlake3(big)],
    ["@napi-rs/blake-hash", () => napiBlake3(big)],
  ]);
  const KIB = "BLAKE3 1 KiB ×4096";
  group(KIB, "MB/s", (4096 * 1024) / MB, REFERENCE, [
    [OURS, () => hashMany(kib), "≥ 1000 MB/s, ≥ 2× hash-wasm"],
    [REFERENCE, () => eachOf(kib, hashWasmBlake3)],
    [BLAKE3_WASM, () => eachOf(kib, blake3WasmHash)],
    ["@noble/hashes", () => eachOf(kib, nobleBlake3)],
    ["@napi-rs/blake-hash", () => eachOf(kib, napiBlake3)],
  ]);
  const TINY = "BLAKE3 64 B ×16384 (M hashes/s)";
  group(TINY, "M/s", 16384 / 1e6, REFERENCE, [
    [OURS, () => hashMany(tiny), "≥ 6 M/s"],
    [BLAKE3_WASM, () => eachOf(tiny, blake3WasmHash)],
    [REFERENCE, () => eachOf(tiny, hashWasmBlake3)],
    ["@noble/hashes", () => eachOf(tiny, nobleBlake3)],
    ["@napi-rs/blake-hash", () => eachOf(tiny, napiBlake3)],
  ]);

  // Native reference: b3sum over a 256 MiB file (page-cache hot), one thread.
  if (Bun.which("b3sum")) {
    const dir = mkdtempSync(join(tmpdir(), "tribles-crypto-"));
    try {
      const file = join(dir, "data");
      const chunk = crypto.getRandomValues(new Uint8Array(1 << 20));
      writeFileSync(file, Buffer.concat(Array.from({ length: 256 }, () => chunk)));
      Bun.spawnSync(["b3sum", "--num-threads", "1", file]);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        Bun.spawnSync(["b3sum", "--num-threads", "1", file]);
        times.push(performance.now() - t0);
      }
      const mbps = (256 * (1 << 20)) / MB / (median(times) / 1000);
      const impl = "b3sum (native, 1 thread, 256 MiB file)";
      row(MIB, impl, mbps, "MB/s", undefined, BLAKE3_WASM);
      row(KIB, impl, mbps, "MB/s");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else console.error("b3sum not installed (apt-get install b3sum): native reference rows skipped");
  return rows;
}
