/**
 * Proof of possession: a head from a publisher may bring into a read scope only blobs that
 * publisher could already read on our store, or whose bytes it handed over itself.
 *
 * Why: read scopes are closures (auth/scope.ts). Without this check a writer limited to branch X
 * could commit on X a reference to a blob it has only heard of (say another branch's metadata
 * handle, which gossip carries): we hold that blob, so the fetch brings nothing, the merge puts it
 * into X's closure, and the writer reads the other branch through X.
 *
 * The check walks the new head's closure in our store (children = 32-byte chunks naming present
 * blobs), stopping at blobs the publisher's scope covers. A blob the publisher delivered in this
 * fetch is its own; any other blob met (one we held already, or one another provider sent) must
 * be produced by the publisher: it is asked for the bytes (batched GET_BLOBS), which must hash to
 * the blob, and the walk goes on below what it proved. A blob it cannot produce refuses the head.
 * A publisher that reads everything needs no walk at all. Callers may count as covered, besides
 * the publisher's scope, the closure of its own tracking branch: those blobs passed this check
 * (or came from it) when that branch moved, and an update need not prove its whole history again.
 */

import type { ReadScope } from "../auth/scope.ts";
import { hashMany } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, Hash } from "../core/store.ts";

/** Hashes asked of the publisher per proof request (bounds what one reply makes us buffer). */
const PROOF_BATCH = 256;
/** Most blobs one head may make its publisher prove: past this the head is refused. */
export const MAX_PROOF_BLOBS = 1 << 16;

/** What the check needs of the publisher: its blobs (unverified; the check hashes them). */
export interface BlobSourceLike {
  getBlobs(hashes: Hash[]): Promise<(Uint8Array | null)[]>;
}

export type PossessionResult = { ok: true; proven: number } | { ok: false; reason: string };

export interface PossessionCheck {
  head: Hash;
  reader: BlobReader;
  /** What the publisher may read of our store. */
  scope: ReadScope;
  /** Blobs the publisher itself delivered in this fetch (null: none). */
  delivered: HashIndex | null;
  /** The publisher, asked for the bytes of blobs it must prove it holds (only when there are any). */
  publisher: () => Promise<BlobSourceLike>;
}

/** Checks that `head`'s closure brings into the publisher's scope only blobs it holds (see above). */
export async function checkPossession(check: PossessionCheck): Promise<PossessionResult> {
  const { reader, scope, delivered } = check;
  if (scope.unrestricted) return { ok: true, proven: 0 };
  scope.update(reader);
  const seen = new HashIndex(256);
  let frontier: Hash[] = [];
  const visit = (h: Hash, into: Hash[]) => {
    if (seen.find(h) >= 0 || !reader.has(h)) return;
    seen.append(h);
    into.push(h.slice());
  };
  visit(check.head, frontier);
  let proven = 0;
  let source: BlobSourceLike | undefined;
  while (frontier.length) {
    const next: Hash[] = [];
    const unproven: Hash[] = [];
    for (const h of frontier) {
      if (scope.covers(h)) continue; // under it, everything is in scope already
      if (delivered && delivered.find(h) >= 0) expand(reader, h, next, visit);
      else unproven.push(h);
    }
    if (proven + unproven.length > MAX_PROOF_BLOBS) return { ok: false, reason: `its head reaches more than ${MAX_PROOF_BLOBS} blobs outside what it may read` };
    for (let at = 0; at < unproven.length; at += PROOF_BATCH) {
      const asked = unproven.slice(at, at + PROOF_BATCH);
      source ??= await check.publisher();
      let reply: (Uint8Array | null)[];
      try {
        reply = await source.getBlobs(asked);
      } catch (err) {
        return { ok: false, reason: `could not ask it for blobs its head references: ${(err as Error).message}` };
      }
      const got = reply.flatMap((b) => (b ? [b] : []));
      const digests = hashMany(got);
      let k = 0;
      for (let i = 0; i < asked.length; i++) {
        const blob = reply[i];
        if (!blob || !bytesEqual(digests[k++]!, asked[i]!)) {
          return { ok: false, reason: `its head references blob ${toHex(asked[i]!)}, which it may not read here and did not produce` };
        }
        expand(reader, asked[i]!, next, visit);
      }
      proven += asked.length;
    }
    frontier = next;
  }
  return { ok: true, proven };
}

/** Covers what either scope covers (a publisher's read scope and what it delivered before). */
export function eitherScope(a: ReadScope, b: ReadScope): ReadScope {
  return {
    unrestricted: a.unrestricted || b.unrestricted,
    update(reader) {
      a.update(reader);
      b.update(reader);
    },
    covers: (h) => a.covers(h) || b.covers(h),
  };
}

function expand(reader: BlobReader, h: Hash, into: Hash[], visit: (h: Hash, into: Hash[]) => void): void {
  const bytes = reader.get(h);
  if (!bytes) return;
  for (let at = 0; at + 32 <= bytes.length; at += 32) visit(bytes.subarray(at, at + 32), into);
}
