/**
 * The signature pattern shared by commits, branch metadata and capability sig blobs: an entity
 * carrying (anchor → handle of the signed blob, signed_by, signature_r, signature_s), where the
 * signature is Ed25519 over the raw bytes of the signed blob.
 */
import { hash } from "../core/blake3.ts";
import { bytesEqual } from "../core/bytes.ts";
import { verify } from "../core/ed25519.ts";
import type { Id } from "../core/id.ts";
import { signatureFromValues } from "../core/schemas.ts";
import type { TribleSet } from "../core/tribleset.ts";
import { REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "./attributes.ts";

export class SignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

/**
 * Finds the single entity whose `anchor` attribute equals `signedHandle` and that carries a full
 * signature, verifies it over `signedBytes`, and returns the signer's public key.
 */
export function verifyAnchoredSignature(set: TribleSet, anchor: Id, signedHandle: Uint8Array, signedBytes: Uint8Array, what: string): Uint8Array {
  if (!bytesEqual(hash(signedBytes), signedHandle)) throw new SignatureError(`${what}: the signed blob does not match its handle`);
  const candidates = set.entitiesWith(anchor, signedHandle).filter((e) => {
    return set.values(e, REPO_SIGNED_BY).length > 0 && set.values(e, REPO_SIGNATURE_R).length > 0 && set.values(e, REPO_SIGNATURE_S).length > 0;
  });
  if (candidates.length === 0) throw new SignatureError(`${what} is not signed`);
  if (candidates.length > 1) throw new SignatureError(`${what} has more than one signature entity`);
  const e = candidates[0]!;
  const signers = set.values(e, REPO_SIGNED_BY);
  const rs = set.values(e, REPO_SIGNATURE_R);
  const ss = set.values(e, REPO_SIGNATURE_S);
  if (signers.length !== 1 || rs.length !== 1 || ss.length !== 1) throw new SignatureError(`${what} has an ambiguous signature`);
  const signer = signers[0]!.slice();
  if (!verify(signer, signedBytes, signatureFromValues(rs[0]!, ss[0]!))) throw new SignatureError(`${what} has a bad signature`);
  return signer;
}
