/**
 * The AUTH reply and why it refuses. v4 (the reference's form) answers one byte: 0x00 accepted,
 * 0x01 refused. v5 keeps 0x00 for accepted and says why it refuses:
 *
 *   0x01                     refused, no reason given (what a v5 server before reason codes sends)
 *   code:u8 at:u64           0x02 revoked, 0x03 expired, 0x04 not valid yet, 0x05 not issued to
 *                            this key, 0x06 forged or broken chain, 0x07 no capability, 0x08 no read
 *                            permission; `at` = the instant meant (unix ms; 0 when none)
 *
 * A client before reason codes closes the stream on any non-zero status, so the trailing bytes
 * never reach a parser that does not expect them.
 */
import type { Refusal, RefusalKind } from "../auth/refusal.ts";
import { taiNsFromUnixMs, unixMsFromTaiNs } from "../core/schemas.ts";

export const AUTH_OK = 0x00;
export const AUTH_REJECTED = 0x01;

const CODES: Record<RefusalKind, number> = {
  revoked: 0x02,
  expired: 0x03,
  "not-yet-valid": 0x04,
  "wrong-key": 0x05,
  "broken-chain": 0x06,
  "no-capability": 0x07,
  "no-read": 0x08,
};
const KINDS = new Map(Object.entries(CODES).map(([kind, code]) => [code, kind as RefusalKind]));

/** Whether a status byte is followed by the 8-byte instant. */
export const hasReasonTail = (status: number): boolean => KINDS.has(status);

/** The v5 reply for a refusal (`undefined`: no reason known). */
export function encodeRefusal(refusal: Refusal | undefined): Uint8Array {
  if (!refusal) return new Uint8Array([AUTH_REJECTED]);
  const out = new Uint8Array(9);
  out[0] = CODES[refusal.kind];
  const ms = refusal.atNs === undefined ? 0 : unixMsFromTaiNs(refusal.atNs);
  new DataView(out.buffer).setBigUint64(1, BigInt(Number.isFinite(ms) && ms > 0 ? Math.floor(ms) : 0));
  return out;
}

/** The refusal a v5 reply (status byte and, for reason codes, its 8-byte tail) stands for. */
export function decodeRefusal(status: number, tail: Uint8Array | undefined): Refusal | undefined {
  const kind = KINDS.get(status);
  if (!kind || !tail || tail.length !== 8) return undefined;
  const ms = new DataView(tail.buffer, tail.byteOffset, 8).getBigUint64(0);
  // A date past what JavaScript can show is no date at all (a confused or hostile peer).
  return ms > 0n && ms < 8_640_000_000_000_000n ? { kind, atNs: taiNsFromUnixMs(Number(ms)) } : { kind };
}
