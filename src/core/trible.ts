/** A trible is 64 bytes: entity (16) ‖ attribute (16) ‖ value (32). Entity and attribute are non-nil. */
import { assertId, type Id } from "./id.ts";

/** Bytes in a trible. */
export const TRIBLE_LEN = 64;
/** Bytes in a trible's value. */
export const VALUE_LEN = 32;

/** The 64-byte trible of (entity, attribute, value); checks the parts' lengths and that e and a are not nil. */
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

/** The entity id of a trible (a view, no copy). */
export const entityPart = (t: Uint8Array): Id => t.subarray(0, 16);
/** The attribute id of a trible (a view). */
export const attributePart = (t: Uint8Array): Id => t.subarray(16, 32);
/** The 32-byte value of a trible (a view). */
export const valuePart = (t: Uint8Array): Uint8Array => t.subarray(32, 64);
