/**
 * The crypto object noise uses under Bun. Bun's node:crypto has no chacha20-poly1305, so noise's
 * default crypto fails on its first large payload; this one does every AEAD call in our own WASM
 * kernel (src/net/chacha20poly1305.ts; see notes/stack-probe.md, gotcha 1).
 */
import { pureJsCrypto } from "@chainsafe/libp2p-noise";
import { noteTransient } from "../core/gc-pacer.ts";
import { open, seal } from "./chacha20poly1305.ts";

export const noiseCrypto: typeof pureJsCrypto = {
  ...pureJsCrypto,
  chaCha20Poly1305Encrypt: (plaintext, nonce, ad, key) => {
    // Each sealed frame is a fresh buffer, garbage once the socket took it: counted, a sync's
    // sender of a large file peaked 13 MB lower. (Decryption writes in place: nothing to count.)
    noteTransient(plaintext.byteLength);
    return seal(key, nonce, plaintext, ad);
  },
  chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, key, dst) => {
    const plain = open(key, nonce, ciphertext, ad, dst);
    if (!plain) throw new Error("noise: ciphertext failed authentication");
    return plain;
  },
};
