/**
 * Who merged: a merge commit is unsigned by design (two peers merging the same heads make the
 * same blob), so the signature that says who adopted it is on the branch update that named it as
 * head. A store keeps every branch-metadata blob it ever held (piles are append-only), so the
 * signers of those naming a commit can be found again.
 */
import { toHex } from "../core/bytes.ts";
import type { BlobReader, Hash } from "../core/store.ts";
import { parseBranchMeta, verifyBranchMeta } from "./branch-meta.ts";

/** Branch metadata is a few hundred bytes; larger blobs are not read at all. */
const MAX_META_BYTES = 4096;

export interface Adopter {
  key: Uint8Array;
  /** updated_at of its earliest update naming the commit (TAI ns), when it has one. */
  at?: bigint;
}

/**
 * For each of `commits` (hex), the keys whose verified signature on some branch update in the
 * store names it as the head, earliest first (the one who merged; later ones fast-forwarded to
 * it, or merged the same heads themselves). Unsigned (tracking) and badly signed updates are not counted.
 */
export function adoptersOf(reader: BlobReader, commits: ReadonlySet<string>): Map<string, Adopter[]> {
  const out = new Map<string, Adopter[]>();
  if (!commits.size) return out;
  for (const h of reader.list()) {
    const size = reader.sizeOf?.(h);
    if (size !== undefined && size > MAX_META_BYTES) continue;
    let bytes: Uint8Array | undefined;
    try {
      bytes = reader.get(h);
    } catch {
      continue; // a damaged blob: `pile diagnose` reports it
    }
    if (!bytes || bytes.length > MAX_META_BYTES) continue;
    let head: Hash | undefined;
    let at: bigint | undefined;
    try {
      const meta = parseBranchMeta(bytes);
      head = meta.head;
      at = meta.updatedAt?.lower;
    } catch {
      continue; // not branch metadata
    }
    if (!head || !commits.has(toHex(head))) continue;
    const headBytes = reader.get(head);
    if (!headBytes) continue;
    let signer: Uint8Array;
    try {
      signer = verifyBranchMeta(bytes, headBytes);
    } catch {
      continue;
    }
    const list = out.get(toHex(head)) ?? [];
    const known = list.find((a) => toHex(a.key) === toHex(signer));
    if (!known) list.push({ key: signer, ...(at !== undefined ? { at } : {}) });
    else if (at !== undefined && (known.at === undefined || at < known.at)) known.at = at;
    out.set(toHex(head), list);
  }
  for (const list of out.values()) list.sort((x, y) => (x.at === y.at ? 0 : (x.at ?? -1n) < (y.at ?? -1n) ? -1 : 1));
  return out;
}
