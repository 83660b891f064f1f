/** ChaCha20-Poly1305 rows of the crypto table: the noise crypto we use against @noble/ciphers on 64 KiB frames. */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { noiseCrypto } from "../../src/net/noise-crypto.ts";
import type { BenchRow } from "../lib.ts";
import { throughput } from "./common.ts";

export function chachaRows(): BenchRow[] {
  const rows: BenchRow[] = [];
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
  return rows;
}
