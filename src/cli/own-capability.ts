/**
 * What a node can tell about its own capability before any peer does: missing, revoked, expired,
 * not valid yet, about to expire, read-only. Said at the start of a sync and by `pile commit`, so a
 * member learns why peers will refuse it from its own terminal, not from silence.
 */
import { type ChainError, collectRevocations, type RevocationSet, type VerifiedCapability, verifyChain } from "../auth/capability.ts";
import { describeRefusal, formatInstant, refusalFromError } from "../auth/refusal.ts";
import { bytesEqual } from "../core/bytes.ts";
import { nowTaiNs } from "../core/schemas.ts";
import type { BlobReader, Hash } from "../core/store.ts";

/** A capability ending sooner than this is worth a warning at start. */
const SOON_NS = 7n * 86_400n * 1_000_000_000n;

export interface OwnCapability {
  /** The capability, when it verifies from this pile. */
  cap?: VerifiedCapability;
  /** Plain-word warnings (empty when all is well or nothing can be told). */
  warnings: string[];
  /** False when the chain's blobs are not (all) in the pile yet: nothing could be told. */
  judged: boolean;
}

/**
 * Checks our capability `capHandle` for `key` under `teamRoot` against the pile. A chain whose
 * blobs are not in the pile (a member's capability lives in its issuer's pile until the first
 * sync fetches it) cannot be judged here and gives no warning.
 */
export function checkOwnCapability(
  reader: BlobReader & { list(): Iterable<Hash> },
  teamRoot: Uint8Array,
  key: Uint8Array,
  capHandle: Hash | null,
  opts: { revoked?: RevocationSet; now?: bigint } = {},
): OwnCapability {
  if (!capHandle) return { warnings: [], judged: true }; // said by the caller, with the option that sets it
  const now = opts.now ?? nowTaiNs();
  let cap: VerifiedCapability;
  try {
    cap = verifyChain(teamRoot, capHandle, key, opts.revoked ?? collectRevocations(reader, [teamRoot]), reader, now);
  } catch (err) {
    const kind = (err as ChainError).kind;
    if (kind === "MalformedSig" || kind === "LeafCapMissing" || kind === "ParentCapMissing") {
      if (!(err as Error).message.includes("not found")) return { warnings: [`your capability is malformed: ${(err as Error).message}`], judged: true };
      return { warnings: [], judged: false };
    }
    return { warnings: [`your capability will be refused by every peer: ${describeRefusal(refusalFromError(err))}`], judged: true };
  }
  const warnings: string[] = [];
  if (cap.expiresAt - now < SOON_NS) warnings.push(`your capability expires on ${formatInstant(cap.expiresAt)}; ask an admin for a new one (\`tribles team invite\`)`);
  if (!cap.grantsWrite() && !bytesEqual(key, teamRoot)) warnings.push("your capability is read-only: peers will not accept your commits or heads");
  return { cap, warnings, judged: true };
}
