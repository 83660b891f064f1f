/** What a SyncNode is given (`SyncNodeOptions`) and what it reports (`SyncEvent`). */
import type { TeamPolicy } from "../../auth/policy.ts";
import type { Refusal } from "../../auth/refusal.ts";
import type { ReadScope } from "../../auth/scope.ts";
import type { SigningKey } from "../../core/ed25519.ts";
import type { Store } from "../../core/store.ts";
import type { Credentials, PushResult } from "../client.ts";
import type { FetchOptions, FetchProgress, FetchSummary } from "../fetch.ts";
import type { DialTarget } from "../dial-target.ts";
import type { HeadFrame } from "../gossip.ts";
import type { HostOptions } from "../host.ts";
import type { ReachOptions } from "../relay.ts";
import type { PeerEvents, SyncDirection } from "../peer.ts";
import type { AccessPolicy, ServerOptions } from "../server/policy.ts";

/** What a SyncNode reports as it runs. */
export type SyncEvent =
  | { type: "listening"; peerId: string; addrs: string[] }
  /** `proven`: blobs the publisher had to hand over again for proof of possession (see possession.ts). */
  | { type: "fetched"; publisher: string; branchId: string; head: string; summary: FetchSummary; proven: number }
  /** A long fetch's progress (see `progressEveryMs`); `ms` since the fetch started. */
  | { type: "fetch-progress"; publisher: string; branchId: string; head: string; progress: FetchProgress; ms: number }
  /** `retryInMs`: when the fetch will be tried again (absent: not until the head is announced again). */
  | { type: "fetch-failed"; publisher: string; branchId: string; error: string; retryInMs?: number }
  /** A fetched head failed proof of possession (see possession.ts); it is not delivered nor retried. */
  | { type: "head-refused"; publisher: string; branchId: string; head: string; reason: string }
  /** A given peer (`--peers`) could not be dialled; it is dialled again in `retryInMs`. */
  | { type: "dial-failed"; addr: string; error: string; retryInMs: number }
  /** A given peer is connected (at start, after a failed dial or after the connection dropped). */
  | { type: "connected"; addr: string; peer: string }
  /** `publisher`: the frame's publisher (peer id), when the frame decoded. */
  | { type: "gossip-dropped"; reason: string; publisher?: string }
  /** What a peer answered to a head we pushed to it directly (see PushResult; "skipped" is not reported). */
  | { type: "head-pushed"; peer: string; branchId: string; head: string; result: Exclude<PushResult, "skipped"> }
  /** `presented`: whether the peer presented a capability at all. */
  | { type: "auth"; peer: string; remoteKey: Uint8Array; accepted: boolean; presented: boolean; refusal?: Refusal }
  /**
   * A peer refused our capability (reported once per peer and reason). `retrying`: whether we try
   * that peer again (only when the refusal may pass, e.g. our chain was incomplete).
   */
  | { type: "refused-by"; peer: string; refusal?: Refusal; retrying: boolean }
  /** A key we served lost access while connected (revoked, or its capability expired): cut off. */
  | { type: "access-ended"; peer: string; remoteKey: Uint8Array; refusal: Refusal; connections: number }
  /** A revocation new to us, verified; `from`: "pile", "gossip" or the peer that gave it. */
  | { type: "revocation"; target: Uint8Array; peer: string; atNs?: bigint; from: string }
  /**
   * A peer broke the protocol or overran a budget of our server (the error names which), or a
   * stranger was closed (admission.ts). Rate limited (error-digest.ts): a peer's first error in an
   * interval is one line, its further ones one line with `count` at the interval's end; peers past
   * the per-interval cap are one line without `peer`, counting `peers`.
   */
  | { type: "peer-error"; peer?: string; error: string; count: number; peers?: number }
  | { type: "provide-failed"; head: string; error: string }
  | { type: "warning"; message: string };

/** Everything a SyncNode needs; `TeamSync` fills most of it from a team root and capability. */
export interface SyncNodeOptions {
  store: Store;
  key: SigningKey;
  teamRoot: Uint8Array;
  /** What we present to peers (our capability). */
  credentials: Credentials;
  /** Who may read from us. */
  policy: AccessPolicy;
  /** Whether a gossiped head's publisher may be acted on (e.g. holds a valid capability). */
  admit?: (frame: HeadFrame) => boolean | Promise<boolean>;
  /**
   * What a publisher may read of our store (e.g. TeamPolicy.readScopeOf; null: nothing). When
   * given, a fetched head is delivered only once it passes proof of possession (possession.ts): it
   * brings into a scope only blobs its publisher could read here or delivered itself.
   */
  readScopeOf?: (publisher: Uint8Array) => ReadScope | null;
  direction?: SyncDirection;
  listen?: string[];
  /** When a listen address's port is taken, listen on a random port instead (see `createHost`). */
  listenFallback?: boolean;
  /** Refuse relayed connections (see `createHost`). */
  directOnly?: boolean;
  /** libp2p's metrics component (see `createHost`). */
  metrics?: HostOptions["metrics"];
  /** Peers to keep connected: multiaddrs, PeerIds or public keys (dial-target.ts), or remembered targets. */
  peers?: (string | DialTarget)[];
  mdns?: boolean;
  /** Whether to run the DHT (default true): without it, peers are found only through `peers` and mDNS. */
  dht?: boolean;
  republishMs?: number;
  /** How long a fetch waits for DHT provider records before starting with what it has (default 1 s). */
  providerLookupMs?: number;
  /** Everything the node reports; see `SyncEvent`. */
  onEvent?: (event: SyncEvent) => void;
  /** A fetch running longer than this reports "fetch-progress" events this often (default 1 s). */
  progressEveryMs?: number;
  peerEvents?: PeerEvents;
  /**
   * Budgets and deadline of every fetch this node makes (see fetch-budget.ts; the defaults leave
   * room for an honest pile of 10 M blobs): `idleMs` drops a peer that sends nothing that long
   * while a reply is due.
   */
  fetch?: Pick<FetchOptions, "limits" | "window"> & { idleMs?: number };
  /**
   * Passed to the pile-sync server: the serving limits (`budget`, `auth`, `admission`; defaults
   * SERVER_BUDGET, AUTH_LIMITS, DEFAULT_ADMISSION), and `withoutOps` (tests play an older server).
   */
  server?: Pick<ServerOptions, "withoutOps" | "budget" | "auth" | "admission">;
  /** Handshakes one IP address may have pending at once (default MAX_PENDING_HANDSHAKES_PER_IP). */
  maxPendingHandshakesPerIp?: number;
  /** Relays, hole punching, serving as a relay (see relay.ts and HostOptions.reach). */
  reach?: ReachOptions;
  /** The interval of "peer-error" events' rate limit (default 10 s). */
  peerErrorIntervalMs?: number;
  /**
   * The team policy behind `policy`, when there is one: revocations are then exchanged and
   * gossiped, a key that loses access is cut off at once, and a relayed head's publisher is judged
   * by the capability chain our peers hold for it.
   */
  team?: TeamPolicy;
}
