/**
 * BLAKE3 rows of the crypto table: our module against @noble/hashes, @napi-rs/blake-hash and native
 * `b3sum --num-threads 1`, on the same inputs in the same run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 as napiBlake3 } from "@napi-rs/blake-hash";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { hash, hashMany } from "../../src/core/blake3.ts";
import { type BenchRow, median } from "../lib.ts";
import { eachOf, MB, throughput } from "./common.ts";

export function blake3Rows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const big = crypto.getRandomValues(new Uint8Array(1 << 20));
  const kib = Array.from({ length: 4096 }, () => crypto.getRandomValues(new Uint8Array(1024)));
  const tiny = Array.from({ length: 16384 }, () => crypto.getRandomValues(new Uint8Array(64)));

  const row = (name: string, impl: string, value: number, unit: string, target?: string) =>
    rows.push({ name, impl, value, unit, referenceImpl: "b3sum (native, 1 thread)", ...(target ? { target } : {}) });

  row("BLAKE3 1 MiB", "tribles (src/core/blake3)", throughput(big.length, () => hash(big)), "MB/s", "≥ 0.5× native");
  row("BLAKE3 1 MiB", "@noble/hashes", throughput(big.length, () => nobleBlake3(big)), "MB/s");
  row("BLAKE3 1 MiB", "@napi-rs/blake-hash", throughput(big.length, () => napiBlake3(big)), "MB/s");
  row("BLAKE3 1 KiB ×4096", "tribles (src/core/blake3)", throughput(4096 * 1024, () => hashMany(kib)), "MB/s");
  row("BLAKE3 1 KiB ×4096", "@noble/hashes", throughput(4096 * 1024, () => eachOf(kib, nobleBlake3)), "MB/s");
  row("BLAKE3 1 KiB ×4096", "@napi-rs/blake-hash", throughput(4096 * 1024, () => eachOf(kib, napiBlake3)), "MB/s");
  row("BLAKE3 64 B ×16384 (M hashes/s)", "tribles (src/core/blake3)", throughput(16384, () => hashMany(tiny)), "M/s");
  row("BLAKE3 64 B ×16384 (M hashes/s)", "@noble/hashes", throughput(16384, () => eachOf(tiny, nobleBlake3)), "M/s");

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
      for (const name of ["BLAKE3 1 MiB", "BLAKE3 1 KiB ×4096"]) rows.push({ name, impl: "b3sum (native, 1 thread)", value: mbps, unit: "MB/s" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else console.error("b3sum not installed (apt-get install b3sum): native reference rows skipped");
  return rows;
}
