/** Inline (32-byte value) encodings used by the repo, capability and net layers (FORMATS §3). */
import { fromHex, isZero } from "./bytes.ts";
import type { Id } from "./id.ts";

export const GENID_SCHEMA = fromHex("B08EE1D45EB081E8C47618178AFE0D81");
export const HASH_BLAKE3_SCHEMA = fromHex("4160218D6C8F620652ECFBD7FDC7BDB3");
export const SHORT_STRING_SCHEMA = fromHex("2D848DB0AF112DB226A6BF1A3640D019");
export const NS_TAI_INTERVAL_SCHEMA = fromHex("2170014368272A2B1B18B86B1F1F1CB5");
export const NS_DURATION_SCHEMA = fromHex("951D5249DB193D3B3F208B994B1072C4");
export const ED25519_PUBLIC_KEY_SCHEMA = fromHex("69A872254E01B4C1ED36E08E40445E93");
export const ED25519_R_SCHEMA = fromHex("995A86FFC83DB95ECEAA17E226208897");
export const ED25519_S_SCHEMA = fromHex("10D35B0B628E9E409C549D8EC1FB3598");
export const BOOLEAN_SCHEMA = fromHex("73B414A3E25B0C0F9E4D6B0694DC33C5");
export const U256BE_SCHEMA = fromHex("DC3CFB719B05F019FB8101A6F471A982");
export const U256LE_SCHEMA = fromHex("49E70B4DBD84DC7A3E0BDDABEC8A8C6E");
export const I256BE_SCHEMA = fromHex("CE3A7839231F1EB390E9E8E13DAED782");
export const I256LE_SCHEMA = fromHex("DB94325A37D96037CBFC6941A4C3B66D");
export const UNKNOWN_INLINE_SCHEMA = fromHex("4EC697E8599AC79D667C722E2C8BEBF4");

/**
 * Schema ids of `Handle<T>` values (a blob's BLAKE3 hash, typed by the blob's encoding). They are
 * intrinsic ids (FORMATS §5.2) of {blob_encoding: T, hash_schema: Blake3, tag: KIND_INLINE_ENCODING};
 * test/core/vectors.test.ts re-derives them.
 */
export const HANDLE_SIMPLE_ARCHIVE_SCHEMA = fromHex("FF4C729BA012C2BB5595690B6200026F");
export const HANDLE_LONG_STRING_SCHEMA = fromHex("C7F6BEDB2BB70DCD769EA439A43FB75B");
export const HANDLE_SUCCINCT_ARCHIVE_SCHEMA = fromHex("BB8F108ADBC91A273F0008243B57D0CC");

const VALUE_LEN = 32;

function checkValue(v: Uint8Array, what: string): void {
  if (v.length !== VALUE_LEN) throw new Error(`${what} value must be ${VALUE_LEN} bytes, got ${v.length}`);
}

/** GenId: 16 zero bytes, then the id. */
export function genIdValue(id: Id): Uint8Array {
  if (id.length !== 16) throw new Error(`GenId needs a 16-byte id, got ${id.length}`);
  const v = new Uint8Array(VALUE_LEN);
  v.set(id, 16);
  return v;
}

/** The id held in a GenId value (the inverse of `genIdValue`); throws if the value is not one. */
export function genIdFromValue(v: Uint8Array): Id {
  checkValue(v, "GenId");
  if (!isZero(v.subarray(0, 16))) throw new Error("invalid GenId value: the first 16 bytes must be zero");
  if (isZero(v.subarray(16))) throw new Error("invalid GenId value: nil id");
  return v.slice(16);
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** ShortString: up to 32 UTF-8 bytes, zero padded, no interior NUL. */
export function shortStringValue(s: string): Uint8Array {
  // TextEncoder would silently turn a lone surrogate into U+FFFD and store different text.
  if (!s.isWellFormed()) throw new Error("ShortString must be well-formed Unicode (it has a lone surrogate)");
  const bytes = utf8.encode(s);
  if (bytes.length > VALUE_LEN) throw new Error(`ShortString too long: ${bytes.length} bytes (max ${VALUE_LEN})`);
  if (bytes.includes(0)) throw new Error("ShortString must not contain NUL");
  const v = new Uint8Array(VALUE_LEN);
  v.set(bytes);
  return v;
}

/** The string held in a ShortString value (the inverse of `shortStringValue`). */
export function shortStringFromValue(v: Uint8Array): string {
  checkValue(v, "ShortString");
  let end = v.indexOf(0);
  if (end < 0) end = VALUE_LEN;
  if (!isZero(v.subarray(end))) throw new Error("invalid ShortString: non-zero byte after the terminator");
  try {
    return utf8Strict.decode(v.subarray(0, end));
  } catch {
    throw new Error("invalid ShortString: not UTF-8");
  }
}

const I128_OFFSET = 1n << 127n;
const U128_MASK = (1n << 128n) - 1n;
const I128_MIN = -(1n << 127n);
const I128_MAX = (1n << 127n) - 1n;

/** Writes an i128 "offset big-endian" (u128(v) XOR 2^127, big-endian) so byte order is numeric order. */
function writeOffsetI128(out: Uint8Array, at: number, v: bigint): void {
  if (v < I128_MIN || v > I128_MAX) throw new Error("timestamp out of i128 range");
  let u = (v & U128_MASK) ^ I128_OFFSET;
  for (let i = 15; i >= 0; i--) {
    out[at + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

function readOffsetI128(v: Uint8Array, at: number): bigint {
  let u = 0n;
  for (let i = 0; i < 16; i++) u = (u << 8n) | BigInt(v[at + i]!);
  const s = u ^ I128_OFFSET;
  return s >= I128_OFFSET ? s - (1n << 128n) : s;
}

/** NsTAIInterval: [lower, upper] in TAI nanoseconds since 1900; lower must not exceed upper. */
export function intervalValue(lower: bigint, upper: bigint): Uint8Array {
  if (lower > upper) throw new Error("invalid interval: lower bound after upper bound");
  const v = new Uint8Array(VALUE_LEN);
  writeOffsetI128(v, 0, lower);
  writeOffsetI128(v, 16, upper);
  return v;
}

export function intervalFromValue(v: Uint8Array): { lower: bigint; upper: bigint } {
  checkValue(v, "NsTAIInterval");
  const lower = readOffsetI128(v, 0);
  const upper = readOffsetI128(v, 16);
  if (lower > upper) throw new Error("invalid NsTAIInterval: inverted interval");
  return { lower, upper };
}

/** A point in time as the collapsed interval (t, t). */
export function pointInterval(ns: bigint): Uint8Array {
  return intervalValue(ns, ns);
}

/** Seconds from 1900-01-01 (TAI reference) to the Unix epoch, plus the current leap-second count. */
const UNIX_TO_TAI_1900_NS = (2_208_988_800n + 37n) * 1_000_000_000n;

export function taiNsFromUnixMs(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 1_000_000n + UNIX_TO_TAI_1900_NS;
}

/** Whole unix milliseconds, rounded down (also before 1970, where BigInt division would round up). */
export function unixMsFromTaiNs(ns: bigint): number {
  const unixNs = ns - UNIX_TO_TAI_1900_NS;
  let ms = unixNs / 1_000_000n;
  if (unixNs < 0n && ms * 1_000_000n !== unixNs) ms -= 1n;
  return Number(ms);
}

/** Now, as TAI nanoseconds since 1900 (the reference's `Epoch::now()`), at sub-millisecond resolution. */
export function nowTaiNs(): bigint {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  return ns + UNIX_TO_TAI_1900_NS;
}

/** NsDuration: offset-BE i128 nanoseconds, then 16 reserved zero bytes. */
export function durationValue(ns: bigint): Uint8Array {
  const v = new Uint8Array(VALUE_LEN);
  writeOffsetI128(v, 0, ns);
  return v;
}

export function durationFromValue(v: Uint8Array): bigint {
  checkValue(v, "NsDuration");
  if (!isZero(v.subarray(16))) throw new Error("invalid NsDuration: reserved bytes must be zero");
  return readOffsetI128(v, 0);
}

/** Signature R component: bytes 0..32 of a 64-byte Ed25519 signature. */
export function signatureRValue(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new Error(`Ed25519 signature must be 64 bytes, got ${sig.length}`);
  return sig.slice(0, 32);
}

/** Signature S component: bytes 32..64. */
export function signatureSValue(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new Error(`Ed25519 signature must be 64 bytes, got ${sig.length}`);
  return sig.slice(32, 64);
}

export function signatureFromValues(r: Uint8Array, s: Uint8Array): Uint8Array {
  checkValue(r, "signature R");
  checkValue(s, "signature S");
  const sig = new Uint8Array(64);
  sig.set(r, 0);
  sig.set(s, 32);
  return sig;
}

/** The Boolean value of `b`. */
export function booleanValue(b: boolean): Uint8Array {
  return new Uint8Array(VALUE_LEN).fill(b ? 0xff : 0);
}

/** The boolean held in a Boolean value; throws if the value is not one. */
export function booleanFromValue(v: Uint8Array): boolean {
  checkValue(v, "Boolean");
  if (v.every((x) => x === 0)) return false;
  if (v.every((x) => x === 0xff)) return true;
  throw new Error("invalid Boolean value: must be all 00 or all FF");
}
