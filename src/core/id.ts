/** 16-byte identifiers (FORMATS §1): random (genid), time-prefixed (ufoid) and counter (fucid) kinds. */
import { fromHex, isZero, toHex } from "./bytes.ts";

/** A 16-byte id. The all-zero (nil) id is never a valid entity, attribute or branch. */
export type Id = Uint8Array;

/** Bytes in an id. */
export const ID_LEN = 16;
/** The all-zero id, which names nothing (an entity or attribute is never nil). */
export const NIL_ID: Id = new Uint8Array(ID_LEN);

/** 16 bytes from the CSPRNG. */
export function genId(): Id {
  const id = new Uint8Array(ID_LEN);
  do crypto.getRandomValues(id);
  while (isZero(id));
  return id;
}

/** Bytes 0..4: unix milliseconds mod 2^32, big-endian; bytes 4..16: random. Sorts roughly by creation time. */
export function ufoId(nowMs: number = Date.now()): Id {
  const id = new Uint8Array(ID_LEN);
  crypto.getRandomValues(id.subarray(4));
  new DataView(id.buffer).setUint32(0, Math.floor(nowMs) % 2 ** 32);
  return id;
}

// fucid state: a random 128-bit salt drawn once per process and a counter from 0.
let fucidSalt: Uint8Array | undefined;
let fucidCounter = 0n;

/** Per-process random salt XOR an incrementing counter, as a big-endian u128: unique, cheap, unordered. */
export function fucId(): Id {
  if (fucidSalt === undefined) {
    fucidSalt = new Uint8Array(ID_LEN);
    crypto.getRandomValues(fucidSalt);
  }
  const id = fucidSalt.slice();
  // XOR the counter into the low (last) bytes, big-endian.
  let c = fucidCounter++;
  for (let i = ID_LEN - 1; c > 0n; i--) {
    id[i]! ^= Number(c & 0xffn);
    c >>= 8n;
  }
  return id;
}

export function isNilId(id: Id): boolean {
  return isZero(id);
}

/** Parses 32 hex characters (either case); rejects the nil id. */
export function idFromHex(hex: string): Id {
  const text = hex.trim();
  if (text.length !== ID_LEN * 2) throw new Error(`invalid id "${short(text)}": expected ${ID_LEN * 2} hex characters, got ${text.length}`);
  let id: Id;
  try {
    id = fromHex(text, ID_LEN);
  } catch (err) {
    throw new Error(`invalid id "${short(text)}": ${(err as Error).message}`);
  }
  if (isZero(id)) throw new Error("invalid id: the nil id (all zeros) is not allowed");
  return id;
}

/** Keeps error messages readable when someone pastes a whole paragraph as an id. */
function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Upper-case hex of an id, as the reference's `{:X}` / source literals write it. */
export function idToHexUpper(id: Id): string {
  return toHex(id).toUpperCase();
}

/** Lower-case hex of an id. */
export function idToHex(id: Id): string {
  return toHex(id);
}

/** Throws unless `id` is a 16-byte non-nil id; `what` names it in the error. */
export function assertId(id: Uint8Array, what = "id"): void {
  if (id.length !== ID_LEN) throw new Error(`${what} must be ${ID_LEN} bytes, got ${id.length}`);
  if (isZero(id)) throw new Error(`${what} must not be the nil id`);
}

/** A 16-byte branch id as a bigint map key (no hex: ids are compared on hot paths). */
export function branchKey(id: Uint8Array): bigint {
  if (id.length !== 16) throw new Error(`branch id must be 16 bytes, got ${id.length}`);
  const v = new DataView(id.buffer, id.byteOffset, 16);
  return (v.getBigUint64(0) << 64n) | v.getBigUint64(8);
}
