/**
 * Ed25519 (RFC 8032, pure) in one module. Bun's native `node:crypto` does the work (about 18× faster
 * than @noble/ed25519 here); tests cross-check it against @noble/ed25519. Keys are raw 32-byte
 * seeds and 32-byte public keys; signatures are 64 bytes (R ‖ S).
 */
import type { KeyObject } from "node:crypto";

/**
 * node:crypto, loaded on first use: importing it costs ~13 ms of start-up, which commands that never
 * sign or verify (e.g. `--help`) should not pay.
 */
let nodeCrypto: typeof import("node:crypto") | undefined;
const native = (): typeof import("node:crypto") => (nodeCrypto ??= process.getBuiltinModule("node:crypto"));

const PKCS8_SEED_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PUBLIC_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export const SEED_LEN = 32;
export const PUBLIC_KEY_LEN = 32;
export const SIGNATURE_LEN = 64;

/** A signing key: the secret seed plus its derived public key. */
export class SigningKey {
  readonly publicKey: Uint8Array;
  private readonly privateKey: KeyObject;

  private constructor(seed: Uint8Array) {
    if (seed.length !== SEED_LEN) throw new Error(`ed25519 seed must be ${SEED_LEN} bytes, got ${seed.length}`);
    this.privateKey = native().createPrivateKey({ key: Buffer.concat([PKCS8_SEED_PREFIX, seed]), format: "der", type: "pkcs8" });
    const jwk = native().createPublicKey(this.privateKey).export({ format: "jwk" });
    this.publicKey = new Uint8Array(Buffer.from(jwk.x!, "base64url"));
    this.seedBytes = seed.slice();
  }

  private readonly seedBytes: Uint8Array;

  /** The key of a 32-byte secret seed (as saved in a key file). */
  static fromSeed(seed: Uint8Array): SigningKey {
    return new SigningKey(seed);
  }

  /** A new random key. */
  static generate(): SigningKey {
    return new SigningKey(crypto.getRandomValues(new Uint8Array(SEED_LEN)));
  }

  /** The secret seed. Handle with care: never print or log it. */
  seed(): Uint8Array {
    return this.seedBytes.slice();
  }

  /** The 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(native().sign(null, message, this.privateKey));
  }
}

const publicKeyCache = new Map<string, KeyObject | null>();

function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  if (publicKey.length !== PUBLIC_KEY_LEN) return null;
  const cacheKey = Buffer.from(publicKey).toString("latin1");
  let key = publicKeyCache.get(cacheKey);
  if (key === undefined) {
    try {
      key = native().createPublicKey({ key: Buffer.concat([SPKI_PUBLIC_PREFIX, publicKey]), format: "der", type: "spki" });
    } catch {
      key = null; // not a valid curve point
    }
    if (publicKeyCache.size > 4096) publicKeyCache.clear();
    publicKeyCache.set(cacheKey, key);
  }
  return key;
}

/** True when `signature` is a valid Ed25519 signature of `message` by `publicKey`. Never throws. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_LEN) return false;
  const key = publicKeyObject(publicKey);
  if (key === null) return false;
  try {
    return native().verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** True when the 32 bytes decode to a point on the curve (a usable public key). */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  return publicKeyObject(publicKey) !== null;
}
