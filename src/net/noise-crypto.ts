/**
 * The crypto object noise uses under Bun. Bun's node:crypto has no chacha20-poly1305, so noise's
 * default crypto fails on its first large payload; this one does every AEAD call in WASM
 * (see notes/stack-probe.md, gotcha 1). Issue: replace with our own SIMD kernel.
 */
import { ChaCha20Poly1305, newInstance } from "@chainsafe/as-chacha20poly1305";
import { pureJsCrypto } from "@chainsafe/libp2p-noise";

type Bytes = Uint8Array | { subarray(): Uint8Array };

const cipher = new ChaCha20Poly1305(newInstance());
const flat = (b: Bytes): Uint8Array => (b instanceof Uint8Array ? b : b.subarray());

export const noiseCrypto: typeof pureJsCrypto = {
  ...pureJsCrypto,
  chaCha20Poly1305Encrypt: (plaintext, nonce, ad, key) => cipher.seal(key, nonce, flat(plaintext), ad),
  chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, key, dst) => {
    const plain = cipher.open(key, nonce, flat(ciphertext), ad, dst);
    if (!plain) throw new Error("noise: ciphertext failed authentication");
    return plain;
  },
};
