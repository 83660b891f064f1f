/** Team context for commands that sync or issue capabilities: team root, own capability, its chain. */
import { toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { BlobReader } from "../core/store.ts";
import { chainBlobs } from "../auth/capability.ts";
import { parseHash, parseKeyHex } from "./common.ts";

export interface TeamOptions {
  teamRoot?: string;
  cap?: string;
}

/** Team root: `--team-root`, then $TRIBLE_TEAM_ROOT, else our own key (a team of one). */
export function teamRootOf(opts: TeamOptions, key: SigningKey): Uint8Array {
  const hex = opts.teamRoot ?? process.env.TRIBLE_TEAM_ROOT;
  return hex ? parseKeyHex(hex, "team root") : key.publicKey;
}

/** Our capability (leaf sig-blob handle): `--cap`, then $TRIBLE_TEAM_CAP; null if none. */
export function capHandleOf(opts: TeamOptions): Uint8Array | null {
  const hex = opts.cap ?? process.env.TRIBLE_TEAM_CAP;
  return hex ? parseHash(hex, "capability handle") : null;
}

/** What we present to peers: our capability and the blobs of its chain (empty if we hold none). */
export function credentialsOf(opts: TeamOptions, reader: BlobReader): { capHandle: Uint8Array; chain: Uint8Array[] } {
  const capHandle = capHandleOf(opts);
  if (!capHandle) return { capHandle: new Uint8Array(32), chain: [] };
  return { capHandle, chain: chainBlobs(capHandle, reader) };
}

export const describeKey = (k: Uint8Array) => toHex(k);
