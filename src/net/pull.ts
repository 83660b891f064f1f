/**
 * A one-shot pull: connect to one peer, find its branch by name, fetch that branch's closure into
 * the local store, check it, and move the tracking branch. No node keeps running afterwards; this
 * is `tribles pile net pull` for a library user.
 */
import { describeRefusal, type Refusal } from "../auth/refusal.ts";
import { branchesReadScope } from "../auth/scope.ts";
import { decodeLongString } from "../core/longstring.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { BranchId, Hash, Store } from "../core/store.ts";
import { parseBranchMeta } from "../repo/branch-meta.ts";
import { Repository } from "../repo/repository.ts";
import { applyRemoteHead, findTrackingBranch } from "../repo/tracking.ts";
import { AuthRejectedError, SyncClient } from "./client.ts";
import { type FetchOptions, type FetchProgress, type FetchSummary, fetchClosure } from "./fetch.ts";
import { createHost, PULL_QUIC, parseAddress } from "./host.ts";
import { peerPublicKey } from "./peer-key.ts";
import { checkPossession } from "./possession.ts";
import { credentialsFor } from "./credentials.ts";
import { describe, netLogger } from "./log.ts";

const log = netLogger("pull");

/** How long connecting and authenticating to the peer may take (ms). */
const CONNECT_TIMEOUT_MS = 10_000;

/** Why a pull failed; `message` names the peer and says what to do. */
export type PullErrorCode = "address" | "unreachable" | "auth-rejected" | "no-such-branch" | "refused" | "bad-data";

/** A pull that did not complete; nothing was moved (blobs fetched so far stay, unreferenced). */
export class PullError extends Error {
  /** An error naming the peer, with its `code`. */
  constructor(
    message: string,
    /** What went wrong, for programs that react to it. */
    readonly code: PullErrorCode,
    /** For "auth-rejected": why the peer refused our capability, when it said. */
    readonly refusal?: Refusal,
  ) {
    super(message);
    this.name = "PullError";
  }
}

/** What to pull, from whom, as whom. */
export interface PullOptions {
  /** The local store the branch is pulled into. */
  store: Store;
  /** Our identity (the peer checks our capability against it). */
  key: SigningKey;
  /** The peer's multiaddr, ending in /p2p/PEER-ID so the peer can be authenticated. */
  from: string;
  /** The remote branch's name. */
  branch: string;
  /** Handle of our capability's signature blob (see `TeamSyncOptions.capability`). */
  capability?: Hash | null;
  /** Called as blobs arrive. */
  onProgress?: (progress: FetchProgress) => void;
  /** The fetch's budgets and requests in flight (see net/fetch-budget.ts), and the idle deadline (ms). */
  fetch?: Pick<FetchOptions, "limits" | "window"> & { idleMs?: number };
}

/** What a pull did. */
export interface PullResult {
  /** The remote branch's id (team-wide). */
  branchId: BranchId;
  /** Handle of the remote branch-metadata blob pulled. */
  head: Hash;
  /** The branch's head commit (null for an empty branch): check it out, or merge it. */
  commit: Hash | null;
  /** The local tracking branch that now holds it. */
  trackingId: BranchId;
  /** Whether the tracking branch moved ("applied") or already held this head or a newer one. */
  status: "applied" | "stale" | "unchanged";
  /** What the fetch transferred. */
  summary: FetchSummary;
}

/**
 * Pulls the branch named `options.branch` from one peer into `options.store` and moves its
 * tracking branch (merge it into a local branch with `mergeRemoteHead` or `Repository.merge`).
 * Throws a {@link PullError} naming the peer when it fails.
 */
export async function pullBranch(options: PullOptions): Promise<PullResult> {
  let parsed: ReturnType<typeof parseAddress>;
  try {
    parsed = parseAddress(options.from);
  } catch (err) {
    throw new PullError((err as Error).message, "address");
  }
  const { addr, peerId } = parsed;
  if (!peerId) throw new PullError(`${options.from}: the address must end in /p2p/<peer id> so the peer can be authenticated`, "address");
  const peerText = peerId.toString();
  const remoteKey = peerPublicKey(peerId);
  if (!remoteKey) throw new PullError(`${options.from}: not an Ed25519 peer id`, "address");
  const { store } = options;
  const host = await createHost({ key: options.key, listen: [], dht: false, quic: PULL_QUIC });
  try {
    let client: SyncClient;
    try {
      client = await SyncClient.connect(host, addr, credentialsFor(store, options.capability ?? null), AbortSignal.timeout(CONNECT_TIMEOUT_MS), options.fetch?.idleMs ? { idleMs: options.fetch.idleMs } : {});
    } catch (err) {
      if (err instanceof AuthRejectedError) {
        const why = err.refusal ? describeRefusal(err.refusal) : "it gave no reason";
        throw new PullError(`peer ${peerText} refused our capability: ${why}`, "auth-rejected", err.refusal);
      }
      throw new PullError(`cannot reach ${options.from}: ${(err as Error).message}`, "unreachable");
    }
    try {
      const match = await findRemoteBranch(client, options.branch);
      if (!match) throw new PullError(`${peerText} has no branch "${options.branch}" that we may read`, "no-such-branch");
      const delivered = new HashIndex(256);
      const summary = await fetchClosure(client, match.head, store, {
        ...(options.fetch?.limits ? { limits: options.fetch.limits } : {}),
        ...(options.fetch?.window ? { window: options.fetch.window } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        onStored: (hashes) => {
          for (const h of hashes) delivered.insert(h);
        },
      });
      // The server presents no capability to us: it is taken to read our branch of that id (and
      // to hold what it served before, the closure of its tracking branch), so the head may bring
      // in only that, what it delivered, or what it hands over now (proof of possession).
      const tracked = findTrackingBranch(new Repository(store), remoteKey, match.branchId);
      const scope = branchesReadScope(store, tracked ? [match.branchId, tracked.id] : [match.branchId]);
      const possession = await checkPossession({ head: match.head, reader: store.reader(), scope, delivered, publisher: async () => client });
      if (!possession.ok) throw new PullError(`refused ${options.branch} from ${peerText}: ${possession.reason}`, "refused");
      const result = applyRemoteHead(store, remoteKey, match.head, match.branchId);
      if (result.status === "rejected") throw new PullError(`bad data from ${peerText}: ${result.reason}`, "bad-data");
      return { branchId: match.branchId, head: match.head, commit: result.head, trackingId: result.trackingId, status: result.status, summary };
    } finally {
      await client.close();
    }
  } finally {
    await host.stop();
  }
}

/**
 * The peer's (non-tracking) branch named `name`, found by fetching each head's metadata and name
 * blobs; undefined when it has none we may read.
 */
export async function findRemoteBranch(client: SyncClient, name: string): Promise<{ branchId: BranchId; head: Hash } | undefined> {
  for (const h of await client.heads()) {
    const [meta] = await client.getBlobs([h.head]);
    if (!meta) continue;
    try {
      const parsed = parseBranchMeta(meta);
      if (parsed.tracking || !parsed.name) continue;
      const [nameBlob] = await client.getBlobs([parsed.name]);
      if (nameBlob && decodeLongString(nameBlob) === name) return h;
    } catch (err) {
      // metadata a peer sent that does not parse names no branch we can pull by name
      log("skipping a remote branch whose metadata does not parse: %s", describe(err));
    }
  }
  return undefined;
}
