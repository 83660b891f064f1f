/**
 * PeerIds and the Ed25519 keys they come from. Kept apart from host.ts so that code needing only
 * a peer's id (`tribles pile net identity`, for one) loads two small modules, not all of libp2p.
 */
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { PeerId } from "@libp2p/interface";
import { peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";

/** The 32-byte Ed25519 public key of a peer (our peers always use Ed25519 identities). */
export function peerPublicKey(peer: PeerId): Uint8Array | null {
  return peer.type === "Ed25519" ? peer.publicKey.raw : null;
}

/** The PeerId of a 32-byte Ed25519 public key. */
export function peerIdFromKey(publicKey: Uint8Array): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey));
}

export { peerIdFromString };
