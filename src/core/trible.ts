/** A trible is 64 bytes: entity (16) ‖ attribute (16) ‖ value (32). Entity and attribute are non-nil. */
import { assertId, type Id } from "./id.ts";

export const TRIBLE_LEN = 64;
export const VALUE_LEN = 32;

export function trible(e: Id, a: Id, v: Uint8Array): Uint8Array {
  assertId(e, "trible entity");
  assertId(a, "trible attribute");
  if (v.length !== VALUE_LEN) throw new Error(`trible value must be ${VALUE_LEN} bytes, got ${v.length}`);
  const t = new Uint8Array(TRIBLE_LEN);
  t.set(e, 0);
  t.set(a, 16);
  t.set(v, 32);
  return t;
}

/** Views of a trible's three parts (no copies). */
export const entityPart = (t: Uint8Array): Id => t.subarray(0, 16);
export const attributePart = (t: Uint8Array): Id => t.subarray(16, 32);
export const valuePart = (t: Uint8Array): Uint8Array => t.subarray(32, 64);
