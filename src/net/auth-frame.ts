/**
 * Reads a v5 AUTH frame (cap[32] count:u32 (len:u32 bytes)*count) from a peer that has proven
 * nothing yet, so it is held to what a real capability chain needs and checked blob by blob: a
 * frame that cannot carry a valid chain is refused at the first blob that shows it, before the
 * rest is read. Measured: a sig blob is 256 bytes (four tribles), a cap blob 448 bytes at the
 * root and 832 bytes delegated, plus 64 bytes per branch it is limited to; a chain is a sig and at
 * most MAX_CHAIN_DEPTH + 1 caps.
 */
import { CAP_SUBJECT, REV_TARGET, SIG_SIGNS } from "../auth/attributes.ts";
import { TRIBLE_LEN } from "../core/trible.ts";
import { bytesEqual, isZero } from "../core/bytes.ts";
import type { Hash } from "../core/store.ts";
import { ProtocolError, type StreamReader } from "./stream-io.ts";

export const AUTH_LIMITS = {
  /**
   * Blobs an AUTH may carry: a chain holds at most a sig and MAX_CHAIN_DEPTH + 1 caps (34); the rest leaves
   * room for revocations sent along.
   */
  maxBlobs: 80,
  /** Bytes per blob: a cap limited to about a thousand branches. */
  maxBlobBytes: 64 << 10,
  /** Bytes of all blobs together: 34 blobs of several KiB each, far above any chain seen. */
  maxTotalBytes: 256 << 10,
};

export interface AuthFrame {
  capHandle: Hash;
  chain: Uint8Array[];
}

/**
 * Whether `blob` could be in a chain (or be a revocation sent along): a SimpleArchive of whole
 * tribles naming a sig, cap or revocation attribute. A cheap shape check only; the policy verifies.
 */
function couldBeChainBlob(blob: Uint8Array): boolean {
  if (blob.length === 0 || blob.length % TRIBLE_LEN !== 0) return false;
  for (let at = 0; at < blob.length; at += TRIBLE_LEN) {
    const attr = blob.subarray(at + 16, at + 32);
    if (bytesEqual(attr, SIG_SIGNS) || bytesEqual(attr, CAP_SUBJECT) || bytesEqual(attr, REV_TARGET)) return true;
  }
  return false;
}

/** Reads the rest of an AUTH frame (after its op byte); ProtocolError names the first thing wrong. */
export async function readAuthFrame(reader: StreamReader, limits = AUTH_LIMITS): Promise<AuthFrame> {
  const capHandle = (await reader.readExactly(32)).slice();
  const count = await reader.readU32();
  if (count > limits.maxBlobs) throw new ProtocolError(`AUTH carries ${count} blobs (limit ${limits.maxBlobs})`);
  if (count > 0 && isZero(capHandle)) throw new ProtocolError(`AUTH presents no capability but carries ${count} blobs`);
  const chain: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const len = await reader.readU32();
    if (len > limits.maxBlobBytes) throw new ProtocolError(`AUTH blob of ${len} bytes (limit ${limits.maxBlobBytes})`);
    if (len === 0 || len % TRIBLE_LEN !== 0) throw new ProtocolError(`AUTH blob of ${len} bytes is not a set of tribles`);
    total += len;
    if (total > limits.maxTotalBytes) throw new ProtocolError(`AUTH blobs of more than ${limits.maxTotalBytes} bytes together`);
    const blob = (await reader.readExactly(len)).slice();
    if (!couldBeChainBlob(blob)) throw new ProtocolError(`AUTH blob ${i} is neither a signature, a capability nor a revocation`);
    chain.push(blob);
  }
  return { capHandle, chain };
}
