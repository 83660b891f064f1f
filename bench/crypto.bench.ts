/**
 * Crypto benchmarks, one table: BLAKE3 (our module, @noble/hashes, @napi-rs/blake-hash, native
 * `b3sum --num-threads 1`) on the same inputs, and ChaCha20-Poly1305 (the noise crypto we use vs
 * @noble/ciphers) on 64 KiB frames. Run: `npm run bench -- crypto`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 as napiBlake3 } from "@napi-rs/blake-hash";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { hash, hashMany } from "../src/core/blake3.ts";
import { noiseCrypto } from "../src/net/noise-crypto.ts";
import { type BenchRow, median, report } from "./lib.ts";

const rows: BenchRow[] = [];
const MB = 1e6;

/** Best-of-median throughput: runs `fn` (which processes `bytes`) until ~`ms` elapsed, returns MB/s. */
function throughput(bytes: number, fn: () => void, ms = 600): number {
  fn();
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
function eachOf(inputs: Uint8Array[], fn: (b: Uint8Array) => unknown): void {
  for (const b of inputs) fn(b);
}

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

// ChaCha20-Poly1305 on 64 KiB frames, as noise uses it.
const key = crypto.getRandomValues(new Uint8Array(32));
const nonce = new Uint8Array(12);
const frame = crypto.getRandomValues(new Uint8Array(65536));
const ad = new Uint8Array(0);
const sealed = noiseCrypto.chaCha20Poly1305Encrypt(frame, nonce, ad, key) as Uint8Array;
const chachaRow = (name: string, impl: string, value: number) =>
  rows.push({ name, impl, value, unit: "MB/s", referenceImpl: "@noble/ciphers", ...(impl.startsWith("tribles") ? { target: "≥ 800 MB/s" } : {}) });
chachaRow("ChaCha20-Poly1305 seal 64 KiB", "tribles noise crypto (as-chacha20poly1305 WASM)", throughput(frame.length, () => noiseCrypto.chaCha20Poly1305Encrypt(frame, nonce, ad, key)));
chachaRow("ChaCha20-Poly1305 seal 64 KiB", "@noble/ciphers", throughput(frame.length, () => chacha20poly1305(key, nonce, ad).encrypt(frame)));
chachaRow("ChaCha20-Poly1305 open 64 KiB", "tribles noise crypto (as-chacha20poly1305 WASM)", throughput(frame.length, () => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)));
chachaRow("ChaCha20-Poly1305 open 64 KiB", "@noble/ciphers", throughput(frame.length, () => chacha20poly1305(key, nonce, ad).decrypt(sealed)));

report("crypto", rows);
