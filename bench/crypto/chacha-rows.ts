/**
 * ChaCha20-Poly1305 rows of the crypto table: our WASM kernel (src/net/chacha20poly1305.ts, the
 * noise crypto) against @chainsafe/as-chacha20poly1305 and @noble/ciphers on the same 64 KiB
 * frames, and a 64 MiB transfer between two processes over our libp2p TCP host (noise + yamux)
 * with our kernel and, for reference, with as-chacha20poly1305 (fixture: chacha-peer.ts).
 */
import { join } from "node:path";
import { ChaCha20Poly1305, newInstance } from "@chainsafe/as-chacha20poly1305";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { open, seal } from "../../src/net/chacha20poly1305.ts";
import { noiseCrypto } from "../../src/net/noise-crypto.ts";
import { type BenchRow, median } from "../lib.ts";
import { interleaved, MB } from "./common.ts";

const OURS = "tribles WASM kernel (SIMD128)";
const AS = "@chainsafe/as-chacha20poly1305";
const NOBLE = "@noble/ciphers";

/** Two processes, 64 MiB per run over one TCP + noise connection; median MB/s of the runs. */
function transfer(impl: "ours" | "as", bytes = 64 << 20, runs = 3): number {
  const proc = Bun.spawnSync([process.execPath, join(import.meta.dir, "chacha-peer.ts"), "transfer", String(bytes), String(runs), impl], {
    stdout: "pipe",
    stderr: "inherit",
    timeout: 120_000,
  });
  const out = JSON.parse(proc.stdout.toString().trim().split("\n").pop() ?? "{}") as { mbps?: number[]; ok?: boolean };
  if (proc.exitCode !== 0 || !out.ok || !out.mbps) throw new Error(`chacha-peer transfer (${impl}) failed: exit ${proc.exitCode}`);
  return median(out.mbps);
}

export function chachaRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = new Uint8Array(12);
  const frame = crypto.getRandomValues(new Uint8Array(65536));
  const ad = new Uint8Array(0);
  const sealed = seal(key, nonce, frame, ad);
  const as = new ChaCha20Poly1305(newInstance());
  if (Buffer.compare(as.seal(key, nonce, frame, ad), sealed) !== 0) throw new Error("as-chacha20poly1305 disagrees with our kernel");
  const row = (name: string, impl: string, value: number, target?: string) =>
    rows.push({ name, impl, value, unit: "MB/s", referenceImpl: NOBLE, ...(target ? { target } : {}) });
  const kernelTarget = "≥ 800 MB/s (≥ 4× @noble/ciphers)";

  /** One row group: every implementation timed in alternating rounds (see `interleaved`). */
  const group = (name: string, entries: [impl: string, fn: () => void, target?: string][]) => {
    const values = interleaved(
      frame.length / MB,
      entries.map(([impl, fn]) => ({ impl, fn })),
    );
    for (const [impl, , target] of entries) row(name, impl, values.get(impl)!, target);
  };
  group("ChaCha20-Poly1305 seal 64 KiB", [
    [OURS, () => seal(key, nonce, frame, ad), kernelTarget],
    [`${OURS} via noiseCrypto`, () => noiseCrypto.chaCha20Poly1305Encrypt(frame, nonce, ad, key)],
    [AS, () => as.seal(key, nonce, frame, ad)],
    [NOBLE, () => chacha20poly1305(key, nonce, ad).encrypt(frame)],
  ]);
  group("ChaCha20-Poly1305 open 64 KiB", [
    [OURS, () => open(key, nonce, sealed, ad), kernelTarget],
    [`${OURS} via noiseCrypto`, () => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)],
    [AS, () => as.open(key, nonce, sealed, ad)],
    [NOBLE, () => chacha20poly1305(key, nonce, ad).decrypt(sealed)],
  ]);

  const TCP = "TCP+noise+yamux 64 MiB, 2 processes";
  rows.push({ name: TCP, impl: AS, value: transfer("as"), unit: "MB/s" });
  rows.push({ name: TCP, impl: OURS, value: transfer("ours"), unit: "MB/s", referenceImpl: AS, target: "≥ 200 MB/s" });
  return rows;
}
