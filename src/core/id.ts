/** 16-byte identifiers (FORMATS §1): random (genid), time-prefixed (ufoid) and counter (fucid) kinds. */
import { randomFillSync } from "node:crypto";
import { fromHex, isZero, toHex } from "./bytes.ts";

/** A 16-byte id. The all-zero (nil) id is never a valid entity, attribute or branch. */
export type Id = Uint8Array;

export const ID_LEN = 16;
export const NIL_ID: Id = new Uint8Array(ID_LEN);

/** 16 bytes from the CSPRNG. */
export function genId(): Id {
  const id = new Uint8Array(ID_LEN);
  do randomFillSync(id);
  while (isZero(id));
  return id;
}

/** Bytes 0..4: unix milliseconds mod 2^32, big-endian; bytes 4..16: random. Sorts roughly by creation time. */
export function ufoId(nowMs: number = Date.now()): Id {
  const id = new Uint8Array(ID_LEN);
  randomFillSync(id, 4);
  new DataView(id.buffer).setUint32(0, Math.floor(nowMs) % 2 ** 32);
  return id;
}

let fucidSalt: bigint | undefined;
let fucidCounter = 0n;

/** Per-process random salt XOR an incrementing counter, as a big-endian u128: unique, cheap, unordered. */
export function fucId(): Id {
  if (fucidSalt === undefined) {
    const salt = new Uint8Array(ID_LEN);
    randomFillSync(salt);
    fucidSalt = BigInt(`0x${toHex(salt)}`);
  }
  const value = (fucidCounter++ ^ fucidSalt) & ((1n << 128n) - 1n);
  return fromHex(value.toString(16).padStart(32, "0"));
}

export function isNilId(id: Id): boolean {
  return isZero(id);
}

/** Parses 32 hex characters (either case); rejects the nil id. */
export function idFromHex(hex: string): Id {
  const id = fromHex(hex.trim(), ID_LEN);
  if (isZero(id)) throw new Error("invalid id: the nil id (all zeros) is not allowed");
  return id;
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
