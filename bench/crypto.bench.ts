/**
 * Crypto benchmarks, one table: BLAKE3 (our module, @noble/hashes, @napi-rs/blake-hash, native
 * `b3sum --num-threads 1`) on the same inputs, and ChaCha20-Poly1305 (the noise crypto we use vs
 * @noble/ciphers) on 64 KiB frames. Run: `npm run bench -- crypto`. The rows live in bench/crypto/.
 */
import { blake3Rows } from "./crypto/blake3-rows.ts";
import { chachaRows } from "./crypto/chacha-rows.ts";
import { report } from "./lib.ts";

report("crypto", [...blake3Rows(), ...chachaRows()]);
