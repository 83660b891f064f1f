/**
 * A running sync node: the libp2p host, the pile-sync server, head gossip and fetches, wired to a
 * `Peer` around the local store. Remote heads are fetched in the background (closure first,
 * verified), then handed to the Peer, which moves tracking branches on its next read.
 */
import type { PeerId } from "@libp2p/interface";
import { MAX_CHAIN_DEPTH } from "../auth/attributes.ts";
import { branchesReadScope, NO_READ_SCOPE, type ReadScope } from "../auth/scope.ts";
import { chainBlobs, nextInChain } from "../auth/capability.ts";
import type { TeamPolicy } from "../auth/policy.ts";
import { isPermanent, type Refusal } from "../auth/refusal.ts";
import type { Revocation } from "../auth/revocations.ts";
import { hash } from "../core/blake3.ts";
import { bytesEqual, isZero, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { HashIndex } from "../core/hash-index.ts";
import { KeyedMap } from "../core/keyed-map.ts";
import type { BranchId, Hash, Store } from "../core/store.ts";
import { parseBranchMeta } from "../repo/branch-meta.ts";
import { Repository } from "../repo/repository.ts";
import { findTrackingBranch } from "../repo/tracking.ts";
import { checkLimits, RequestAbandoned } from "./budget.ts";
import { ErrorDigest } from "./error-digest.ts";
import { ProtocolError } from "./stream-io.ts";
import { AuthRejectedError, type Credentials, type PushResult, SyncClient } from "./client.ts";
import { BudgetExceededError, fetchClosure, type FetchOptions, type FetchProgress, type FetchSummary, MissingBlobError } from "./fetch.ts";
import { checkPossession, eitherScope } from "./possession.ts";
import { encodeHeadFrame, type HeadFrame, HeadGossip } from "./gossip.ts";
import type { ReachOptions } from "./relay.ts";
import { createHost, type Host, parseAddress, peerIdFromKey, peerIdFromString, peerPublicKey } from "./host.ts";
import { type PeerEvents, Peer, type PeerNetwork, type RemoteHead, type SyncDirection } from "./peer.ts";
import { type AccessPolicy, LIMITS, type ServerOptions, SyncServer } from "./protocol.ts";
import { announceProvider, providersFor } from "./providers.ts";
import { PublisherChains } from "./publisher-chains.ts";
import { RevocationSync } from "./revocation-sync.ts";

/** A branch's provider record is placed once it has been quiet this long… */
const PROVIDE_QUIET_MS = 500;
/** …or at the latest this long after its first unannounced change. */
const PROVIDE_MAX_WAIT_MS = 5000;
/**
 * A failed fetch is tried again after these delays (unless a newer head arrives first): a
 * connection that drops mid-fetch should not leave a head missing until the next republish.
 */
const RETRY_DELAYS_MS = [250, 1000, 4000];
/** A given peer that cannot be reached is dialled again after this long, doubling up to REDIAL_MAX_MS. */
const REDIAL_MIN_MS = 1000;
const REDIAL_MAX_MS = 30_000;
/** A fetch still running after this long reports its progress, then at most this often. */
const FETCH_PROGRESS_MS = 1000;
/**
 * A pushed head unanswered this long stops pushes to that peer (gossip still reaches it). Above
 * the CLI's 5 s wait for a publisher's capability, so a slow admission is not taken for a stall.
 */
const PUSH_TIMEOUT_MS = 10_000;
/**
 * Gossip of a head we also pushed waits this long: signing and sending it would otherwise sit in
 * front of serving the fetches our pushes start (about 2 ms of W3's 10). Peers reached only by
 * gossip must find and dial a provider before fetching, which costs far more than this.
 */
const GOSSIP_AFTER_PUSH_MS = 10;
/** Dropped heads remembered so each is reported once; the memory is cleared when it is full. */
const MAX_DROPS_REMEMBERED = 4096;
/** Peers remembered in the tables keyed by whoever connected (authFailed, refusedBy, refusalsSaid). */
const MAX_PEERS_REMEMBERED = 4096;

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
  peers?: string[];
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

/** A running sync node: libp2p host, pile-sync server, gossip and fetches, around `peer`. */
export class SyncNode implements PeerNetwork {
  readonly peer: Peer;
  private delivered: RemoteHead[] = [];
  private readonly clients = new Map<string, Promise<SyncClient>>();
  /** The clients of `clients` that have connected, to tell a live one from one whose connection closed. */
  private readonly connected = new Map<string, SyncClient>();
  /** Failed fetches retried so far, per (publisher, branch) key; see RETRY_DELAYS_MS. */
  private readonly retries = new Map<string, number>();
  /**
   * Peers whose AUTH failed in a way our missing chain may explain, by key: asked again once we
   * hold it. This and the next two tables are keyed by the keys of whoever connected (strangers
   * included, each bringing a key of its choosing): seeded, and bounded by MAX_PEERS_REMEMBERED.
   */
  private readonly authFailed = new KeyedMap<PeerId>(MAX_PEERS_REMEMBERED);
  /** Peers that refused our capability for good (see isPermanent), with the error; not asked again. */
  private readonly refusedBy = new KeyedMap<AuthRejectedError>(MAX_PEERS_REMEMBERED);
  /** Dropped heads already reported (see reportDrop). */
  private readonly dropsSaid = new Set<string>();
  /** Refusal kinds already reported per peer key, so each refusal is said once. */
  private readonly refusalsSaid = new KeyedMap<Set<string>>(MAX_PEERS_REMEMBERED);
  private revocationSync: RevocationSync | undefined;
  private chains: PublisherChains | undefined;
  /** Latest wanted head per (publisher, branch); fetches run one at a time per branch. */
  private readonly wanted = new Map<string, RemoteHead>();
  private readonly running = new Set<string>();
  /** Closures of branch-limited publishers' tracking branches, by tracking id (see trackedScope). */
  private readonly trackedScopes = new Map<string, ReadScope>();
  private deliveredListener: (() => void) | undefined;
  private gossip!: HeadGossip;
  private server!: SyncServer;
  private stopped = false;
  /** Aborts DHT operations still running at stop. */
  private readonly lifetime = new AbortController();
  /** Newest head per branch (hex id) waiting for its provider record; see `provide`. */
  private readonly pendingProvides = new Map<string, Hash>();
  private firstPendingAt: number | undefined;
  private provideTimer: ReturnType<typeof setTimeout> | undefined;

  /** Our server's complaints about peers, rate limited into "peer-error" events. */
  private readonly peerErrors: ErrorDigest;

  private constructor(
    readonly host: Host,
    private readonly opts: SyncNodeOptions,
  ) {
    this.peerErrors = new ErrorDigest((line) => opts.onEvent?.({ type: "peer-error", ...line }), opts.peerErrorIntervalMs);
    this.peer = new Peer(opts.store, this, opts.direction ?? "bidirectional", opts.peerEvents ?? {});
  }

  /** Starts the node, listens, and dials the given peers (their first dial is awaited). */
  static async start(opts: SyncNodeOptions): Promise<SyncNode> {
    // Bad limits fail here, before there is a host to stop.
    checkLimits("budget", opts.server?.budget);
    checkLimits("auth", opts.server?.auth);
    checkLimits("admission", opts.server?.admission);
    checkLimits("node", { maxPendingHandshakesPerIp: opts.maxPendingHandshakesPerIp, peerErrorIntervalMs: opts.peerErrorIntervalMs });
    const host = await createHost({
      key: opts.key,
      ...(opts.listen ? { listen: opts.listen } : {}),
      mdns: opts.mdns ?? false,
      ...(opts.dht === false ? { dht: false } : {}),
      ...(opts.maxPendingHandshakesPerIp !== undefined ? { maxPendingHandshakesPerIp: opts.maxPendingHandshakesPerIp } : {}),
      ...(opts.reach ? { reach: opts.reach } : {}),
      onWarning: (message) => opts.onEvent?.({ type: "warning", message }),
    });
    const node = new SyncNode(host, opts);
    const peerErrors = node.peerErrors;
    node.server = new SyncServer(
      host,
      opts.store,
      opts.policy,
      {
        onAuth: (remoteKey, accepted, capHandle, refusal) =>
          opts.onEvent?.({ type: "auth", peer: peerIdFromKey(remoteKey).toString(), remoteKey, accepted, presented: !isZero(capHandle), ...(refusal ? { refusal } : {}) }),
        // A requester that left mid-request is not an error of its own; what it broke or overran is.
        onError: (peer, error) => {
          if (error instanceof ProtocolError && !(error instanceof RequestAbandoned)) peerErrors.add(peer, error.message);
        },
        onStrangerClosed: (peer, reason) => peerErrors.add(peer, `closed: ${reason}`),
      },
      // A pushed head goes through gossip's checks and delivery, so one arriving both ways is fetched once.
      { ...opts.server, onPushedHead: (frame, pusher) => node.gossip.receivePushed(frame, pusher) },
    );
    await node.server.start();
    node.gossip = new HeadGossip({
      pubsub: host.services.pubsub,
      teamRoot: opts.teamRoot,
      self: opts.key.publicKey,
      admit: (frame) => node.admit(frame),
      onHead: (frame) => node.onRemoteHead(frame),
      onDrop: (reason, frame) => node.reportDrop(reason, frame),
      ...(opts.republishMs ? { republishMs: opts.republishMs } : {}),
    });
    node.gossip.start();
    if (opts.team) node.joinTeam(opts.team);
    opts.onEvent?.({ type: "listening", peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map(String) });
    // Authenticate to every peer as soon as it connects, so each side knows the other's capability
    // before gossip arrives (gossip is admitted only from peers with a verified capability).
    host.addEventListener("peer:connect", (evt: CustomEvent<PeerId>) => void node.clientFor(evt.detail).catch(() => undefined));
    // A client lives on its connection: once that closes, the next request must open a new one.
    host.addEventListener("peer:disconnect", (evt: CustomEvent<PeerId>) => node.forgetClient(evt.detail.toString()));
    // New subscribers get our heads right away rather than at the next periodic republish.
    host.services.pubsub.addEventListener("subscription-change", () => node.gossip.welcome());
    // Each given peer's first dial is awaited, so a caller sees it connected (or failed) on return.
    await Promise.all((opts.peers ?? []).map((addr) => node.keepConnected(addr)));
    return node;
  }

  /**
   * Dials a given peer and keeps it connected: a failed or dropped connection is dialled again
   * after 1 s, doubling up to 30 s while dials fail (a connection made resets the wait). Resolves
   * after the first attempt; the rest runs in the background until `stop`.
   */
  private async keepConnected(text: string): Promise<void> {
    const { addr } = parseAddress(text);
    let delay = REDIAL_MIN_MS;
    const attempt = async (): Promise<PeerId | undefined> => {
      try {
        const connection = await this.host.dial(addr, { signal: this.lifetime.signal });
        delay = REDIAL_MIN_MS;
        this.opts.onEvent?.({ type: "connected", addr: text, peer: connection.remotePeer.toString() });
        return connection.remotePeer;
      } catch (err) {
        if (this.stopped) return undefined;
        this.opts.onEvent?.({ type: "dial-failed", addr: text, error: err instanceof Error ? err.message : String(err), retryInMs: delay });
        return undefined;
      }
    };
    const first = await attempt();
    this.background(`keeping ${text} connected`, async () => {
      let peer = first;
      while (!this.stopped) {
        if (peer) await this.untilDisconnected(peer);
        // A peer that refused our capability for good (revoked, expired, …) is not dialled again.
        if (peer && this.refusedFor(peer)) return;
        await this.sleep(delay);
        if (!peer) delay = Math.min(delay * 2, REDIAL_MAX_MS);
        if (!this.stopped) peer = await attempt();
      }
    });
  }

  /** Wires the team policy in: revocations spread, lost access is cut off, relayed publishers are looked up. */
  private joinTeam(team: TeamPolicy): void {
    const liveClients = () => [...this.connected.values()].filter((c) => c.isOpen);
    this.chains = new PublisherChains(team, liveClients);
    this.revocationSync = new RevocationSync({
      policy: team,
      pubsub: this.host.services.pubsub,
      teamRoot: this.opts.teamRoot,
      clients: liveClients,
      isMember: (peer) => this.isMember(peer),
      onLearned: (rev, from) => this.reportRevocation(rev, from),
    });
    team.onAccessLost((key, refusal) => this.endAccess(key, refusal));
    this.revocationSync.start();
    // Revocations already in the pile count from the start (and are handed on at each AUTH).
    team.refreshRevocations();
  }

  /** Whether a peer presented a capability that verifies (and still holds) here. */
  private isMember(peer: string): boolean {
    const key = peerPublicKey(peerIdFromString(peer));
    return !!key && !!this.opts.team?.capabilityOf(key);
  }

  private reportRevocation(rev: Revocation, from: string): void {
    if (this.stopped) return;
    // Also a revoked key that never authenticated to us (we only dialled it): we stop talking to it.
    this.disconnect(rev.target);
    this.opts.onEvent?.({ type: "revocation", target: rev.target, peer: peerIdFromKey(rev.target).toString(), ...(rev.atNs === undefined ? {} : { atNs: rev.atNs }), from });
  }

  /**
   * A key lost access (revoked or expired): nothing more is served to it (its grants end and its
   * connections close), no fetch of its heads goes on, and no client of ours talks to it.
   */
  private endAccess(key: Uint8Array, refusal: Refusal): void {
    if (this.stopped) return;
    const connections = this.server.cutOff(key);
    this.disconnect(key);
    this.opts.onEvent?.({ type: "access-ended", peer: peerIdFromKey(key).toString(), remoteKey: key, refusal, connections });
  }

  /** Closes our client to a key and every connection with it, and drops the fetches of its heads. */
  private disconnect(key: Uint8Array): void {
    const peer = peerIdFromKey(key);
    this.forgetClient(peer.toString());
    const prefix = toHex(key);
    for (const wanted of [...this.wanted.keys()]) if (wanted.startsWith(prefix)) this.wanted.delete(wanted);
    for (const retry of [...this.retries.keys()]) if (retry.startsWith(prefix)) this.retries.delete(retry);
    if (this.host.getConnections(peer).length > 0) void this.host.hangUp(peer).catch(() => undefined);
  }

  /** A dropped frame, reported with its publisher and, for a refused publisher, why in words. */
  private reportDrop(reason: string, frame: HeadFrame | null): void {
    const team = this.opts.team;
    const why = frame && team && reason === "publisher has no valid capability" ? team.whyNotAdmitted(frame.publisher, frame.branchId) : reason;
    // Gossip re-sends a head every republish: each (publisher, head, reason) is reported once.
    const said = frame ? `${toHex(frame.publisher)}${toHex(frame.head)}${why}` : why;
    if (this.dropsSaid.has(said)) return;
    if (this.dropsSaid.size >= MAX_DROPS_REMEMBERED) this.dropsSaid.clear();
    this.dropsSaid.add(said);
    this.opts.onEvent?.({ type: "gossip-dropped", reason: why, ...(frame ? { publisher: peerIdFromKey(frame.publisher).toString() } : {}) });
  }

  /** Whether a head of this publisher may still be acted on (a revocation may have come meanwhile). */
  private stillAdmitted(remote: RemoteHead): boolean {
    return this.opts.team ? this.opts.team.admits(remote.publisher, remote.branchId) : true;
  }

  /** Resolves once no connection to `peer` is left, or at stop. */
  private untilDisconnected(peer: PeerId): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.host.removeEventListener("peer:disconnect", onDisconnect);
        this.lifetime.signal.removeEventListener("abort", done);
        resolve();
      };
      const onDisconnect = (evt: CustomEvent<PeerId>) => {
        if (evt.detail.equals(peer)) done();
      };
      this.host.addEventListener("peer:disconnect", onDisconnect);
      this.lifetime.signal.addEventListener("abort", done);
      if (this.stopped || this.host.getConnections(peer).length === 0) done();
    });
  }

  /** Waits `ms`, or less if the node stops meanwhile. */
  private sleep(ms: number): Promise<void> {
    const signal = this.lifetime.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      if (signal.aborted) done();
    });
  }

  /** Called whenever a remote head's closure has been stored (the caller then reads through the Peer). */
  onDelivered(listener: () => void): void {
    this.deliveredListener = listener;
  }

  takeDelivered(): RemoteHead[] {
    const out = this.delivered;
    this.delivered = [];
    return out;
  }

  publishHead(branchId: BranchId, head: Hash): void {
    const pushed = this.pushHead(branchId, head);
    this.background("publishing a head", () => this.gossip.publish(branchId, head, pushed > 0 ? GOSSIP_AFTER_PUSH_MS : 0));
    this.provide(branchId, head);
  }

  /**
   * Sends a new head straight to every peer we hold an authenticated client for, before gossip
   * (which still carries it, to everyone else and to peers that predate the op): a connected peer
   * learns it one hop sooner. Fire and forget; a slow peer never holds publishing up. Returns how
   * many peers it was offered to.
   */
  private pushHead(branchId: BranchId, head: Hash): number {
    if (this.stopped || this.connected.size === 0) return 0;
    let sent = 0;
    const frame = encodeHeadFrame({ branchId, head, publisher: this.opts.key.publicKey });
    for (const [peer, client] of this.connected) {
      if (!client.isOpen || !client.pushSupported) continue;
      sent++;
      this.background(`pushing a head to ${peer}`, async () => {
        const result = await client.pushHead(frame, PUSH_TIMEOUT_MS);
        if (result !== "skipped" && !this.stopped) this.opts.onEvent?.({ type: "head-pushed", peer, branchId: toHex(branchId), head: toHex(head), result });
      });
    }
    return sent;
  }

  announce(_hashes: Hash[]): void {
    // Provider records are placed for branch heads only (see `provide`): a stored head implies its
    // whole closure is stored, so one record per head says everything a fetch needs, while a record
    // per blob would cost a DHT operation per blob.
  }

  /**
   * Records in the DHT that this node serves `head` and its closure. Records are placed once a
   * branch has been quiet for PROVIDE_QUIET_MS (at most PROVIDE_MAX_WAIT_MS after its first
   * change), for its newest head only: a DHT operation costs milliseconds of CPU that would
   * otherwise sit between a commit and its arrival at the other peers.
   */
  private provide(branchId: BranchId, head: Hash): void {
    if (!this.host.services.dht || this.stopped) return;
    this.pendingProvides.set(toHex(branchId), head);
    this.firstPendingAt ??= Date.now();
    clearTimeout(this.provideTimer);
    const wait = Math.min(PROVIDE_QUIET_MS, Math.max(0, this.firstPendingAt + PROVIDE_MAX_WAIT_MS - Date.now()));
    this.provideTimer = setTimeout(() => this.flushProvides(), wait);
    this.provideTimer.unref?.();
  }

  private flushProvides(): void {
    const heads = [...this.pendingProvides.values()];
    this.pendingProvides.clear();
    this.firstPendingAt = undefined;
    for (const head of heads) {
      announceProvider(this.host, head, this.lifetime.signal).catch((err) => {
        if (!this.stopped) this.opts.onEvent?.({ type: "provide-failed", head: toHex(head), error: err instanceof Error ? err.message : String(err) });
      });
    }
  }

  /**
   * A gossiped head may have been relayed by peers we share a mesh with while its publisher is not
   * connected to us: contact the publisher (found through the DHT when we have no address), so the
   * two sides authenticate and learn each other's capability, then apply the caller's check.
   */
  private async admit(frame: HeadFrame): Promise<boolean> {
    const team = this.opts.team;
    if (team?.revoked.has(frame.publisher)) return false;
    const publisher = peerIdFromKey(frame.publisher);
    if (!this.stopped && this.host.getConnections(publisher).length === 0) void this.clientFor(publisher).catch(() => undefined);
    // A publisher we never authenticated: judge it by the chain our peers verified for it.
    if (team && this.chains && !team.capabilityOf(frame.publisher)) await this.chains.lookup(frame.publisher);
    if (this.opts.admit) return this.opts.admit(frame);
    return team ? team.admits(frame.publisher, frame.branchId) : true;
  }

  private onRemoteHead(frame: HeadFrame): void {
    if (this.stopped || this.peer.direction === "writeonly") return;
    const key = toHex(frame.publisher) + toHex(frame.branchId);
    this.wanted.set(key, { ...frame, receivedAt: Date.now() });
    if (!this.running.has(key)) this.background("fetching a head", () => this.fetchLoop(key));
  }

  private async fetchLoop(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let remote = this.wanted.get(key); remote && !this.stopped; remote = this.wanted.get(key)) {
        this.wanted.delete(key);
        const publisher = peerIdFromKey(remote.publisher);
        if (!this.stillAdmitted(remote)) continue;
        // A head we hold already has its closure here (blobs are stored closure first): nothing to
        // fetch, and no event (heads are re-sent on every new subscription and republish).
        if (this.opts.store.reader().has(remote.head)) {
          this.retries.delete(key);
          const scope = this.readScope(remote.publisher);
          const noCheck = scope === undefined || scope?.unrestricted === true;
          const possessed = noCheck || this.alreadyTracked(remote) || (await this.possessed(remote, null)) !== null;
          if (this.stopped || !possessed) continue;
          this.delivered.push(remote);
          this.deliveredListener?.();
          continue;
        }
        try {
          const clients = await this.providerClients(remote.head, publisher);
          // What the publisher itself delivers is its own; a scope that covers everything needs no record.
          const scope = this.readScope(remote.publisher);
          const own = scope && !scope.unrestricted && clients.length === 1 && clients[0]!.peer === publisher.toString() ? new HashIndex(256) : null;
          const onStored = own
            ? (hashes: readonly Hash[]) => {
                for (const h of hashes) own.insert(h);
              }
            : undefined;
          const summary = await fetchClosure(clients, remote.head, this.opts.store, {
            ...this.fetchBudget(),
            onProgress: this.progressReporter(publisher, remote),
            have: this.haveHints(remote),
            ...(onStored ? { onStored } : {}),
          });
          this.retries.delete(key);
          for (const dropped of summary.dropped) this.forgetClient(dropped.peer);
          const proven = await this.possessed(remote, own);
          if (proven === null || this.stopped) continue;
          // Access may have ended while the fetch ran: its blobs stay, its head is not applied.
          if (!this.stillAdmitted(remote)) continue;
          this.delivered.push(remote);
          this.provide(remote.branchId, remote.head);
          this.opts.onEvent?.({ type: "fetched", publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head), summary, proven });
          this.deliveredListener?.();
        } catch (err) {
          // Stopping closes the streams under running fetches: that is no failure to report or retry.
          if (this.stopped) return;
          // Only a client whose connection died is replaced: other fetches may be using this one.
          this.forgetClientIfClosed(publisher.toString());
          const error = err instanceof Error ? err.message : String(err);
          // A peer that refused our capability was reported once (refused-by); a retry then comes
          // only once our chain is complete (completeOwnChain), not per announced head.
          if (err instanceof AuthRejectedError) continue;
          // A peer that answered it lacks a blob, or may not share it with us, will answer the
          // same again, as will one whose DAG overran a budget; anything else (a dropped
          // connection, a stall, a refused stream) may pass.
          const final = err instanceof MissingBlobError || err instanceof BudgetExceededError;
          const retryInMs = final ? undefined : this.retryLater(key, remote);
          const failed = { type: "fetch-failed", publisher: publisher.toString(), branchId: toHex(remote.branchId), error } as const;
          this.opts.onEvent?.(retryInMs === undefined ? failed : { ...failed, retryInMs });
        }
      }
    } finally {
      this.running.delete(key);
    }
  }

  /** The fetch options of `SyncNodeOptions.fetch`. */
  private fetchBudget(): Pick<FetchOptions, "limits" | "window"> {
    const given = this.opts.fetch ?? {};
    return { ...(given.limits ? { limits: given.limits } : {}), ...(given.window ? { window: given.window } : {}) };
  }

  /** The publisher's read scope on our store: undefined when no check is configured, null when it reads nothing. */
  private readScope(publisher: Uint8Array): ReadScope | null | undefined {
    return this.opts.readScopeOf ? this.opts.readScopeOf(publisher) : undefined;
  }

  /**
   * Proof of possession (possession.ts) for a head whose closure is stored, `own` being what its
   * publisher delivered: how many blobs it had to prove when the head may be delivered; otherwise
   * null, reporting "head-refused" (not retried: the same head fails the same way until the
   * publisher can produce the blobs).
   */
  private async possessed(remote: RemoteHead, own: HashIndex | null): Promise<number | null> {
    const scope = this.readScope(remote.publisher);
    if (scope === undefined || scope?.unrestricted) return 0;
    const publisher = peerIdFromKey(remote.publisher);
    const result = await checkPossession({
      head: remote.head,
      reader: this.opts.store.reader(),
      scope: eitherScope(scope ?? NO_READ_SCOPE, this.trackedScope(remote)),
      delivered: own,
      publisher: () => this.clientFor(publisher),
    }).catch((err: Error) => ({ ok: false as const, reason: `could not reach it to ask for blobs its head references: ${err.message}` }));
    if (result.ok) return result.proven;
    this.opts.onEvent?.({ type: "head-refused", publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head), reason: result.reason });
    return null;
  }

  /**
   * The closure of our tracking branch of (publisher, branch): blobs that passed proof of
   * possession (or came from it) when it moved, so a new head need not prove its history again
   * (with --no-merge, or a refused merge, it is not in the publisher's read scope). One incremental
   * index per tracking branch, for branch-limited publishers only.
   */
  private trackedScope(remote: RemoteHead): ReadScope {
    const tracking = findTrackingBranch(new Repository(this.opts.store), remote.publisher, remote.branchId);
    if (!tracking) return NO_READ_SCOPE;
    const key = toHex(tracking.id);
    let index = this.trackedScopes.get(key);
    if (!index) {
      index = branchesReadScope(this.opts.store, [tracking.id]);
      this.trackedScopes.set(key, index);
    }
    return index;
  }

  /**
   * Whether our tracking branch of this (publisher, branch) already names the head commit of a
   * head we hold: it passed the checks when it moved there, and nothing new enters.
   */
  private alreadyTracked(remote: RemoteHead): boolean {
    try {
      const bytes = this.opts.store.reader().get(remote.head);
      const commit = bytes ? parseBranchMeta(bytes).head : undefined;
      const tracked = findTrackingBranch(new Repository(this.opts.store), remote.publisher, remote.branchId)?.meta.head;
      return commit !== undefined && tracked !== undefined && bytesEqual(commit, tracked);
    } catch {
      return false;
    }
  }

  /**
   * What a new head of this remote branch likely builds on, so the fetch's one-request closure
   * leaves it out: our tracking branch's metadata, the name blob and head commit it mirrors, and the
   * head commit of our own branch of that name (a peer often commits on top of what it pulled).
   */
  private haveHints(remote: RemoteHead): Hash[] {
    try {
      const repo = new Repository(this.opts.store);
      const tracking = findTrackingBranch(repo, remote.publisher, remote.branchId);
      if (!tracking) return [];
      const have = [tracking.metaHandle, tracking.meta.tracking!.remoteName];
      if (tracking.meta.head) have.push(tracking.meta.head);
      const ours = repo.listBranches().find((b) => !b.tracking && b.name === tracking.name);
      if (ours?.meta.head) have.push(ours.meta.head);
      return have;
    } catch {
      return []; // unreadable metadata: hints are an optimisation only
    }
  }

  /** Turns a fetch's progress calls into "fetch-progress" events: none for a short fetch, then one per interval. */
  private progressReporter(publisher: PeerId, remote: RemoteHead): (p: FetchProgress) => void {
    const every = this.opts.progressEveryMs ?? FETCH_PROGRESS_MS;
    const started = performance.now();
    let due = started + every;
    return (progress) => {
      const now = performance.now();
      if (now < due || !this.opts.onEvent || this.stopped) return;
      due = now + every;
      const ids = { publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head) };
      this.opts.onEvent({ type: "fetch-progress", ...ids, progress: { ...progress }, ms: now - started });
    };
  }

  /**
   * Fetches `remote` again after the next retry delay (returned), unless a newer head is wanted by
   * then; undefined once the retries are used up.
   */
  private retryLater(key: string, remote: RemoteHead): number | undefined {
    const attempt = this.retries.get(key) ?? 0;
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined) {
      this.retries.delete(key);
      return undefined;
    }
    this.retries.set(key, attempt + 1);
    const timer = setTimeout(() => {
      if (this.stopped || this.wanted.has(key)) return;
      this.wanted.set(key, remote);
      if (!this.running.has(key)) this.background("fetching a head", () => this.fetchLoop(key));
    }, delay);
    timer.unref?.();
    return delay;
  }

  /**
   * Authenticated clients for the peers that can serve `head`: the publisher when it is connected;
   * otherwise DHT providers found within the lookup budget, and the publisher (dialled while the
   * DHT is asked).
   */
  private async providerClients(head: Hash, publisher: PeerId): Promise<SyncClient[]> {
    const toPublisher = this.clientFor(publisher);
    toPublisher.catch(() => undefined);
    // A connected publisher serves at once: a DHT lookup would add tens of milliseconds to every
    // small update (the common case). The DHT is asked when the publisher is not connected to us.
    if (this.host.getConnections(publisher).length > 0) return [await toPublisher];
    const providers = await providersFor(this.host, head, publisher, { timeoutMs: this.opts.providerLookupMs ?? 1000, limit: 4 });
    const settled = await Promise.allSettled(providers.map((p) => (p.equals(publisher) ? toPublisher : this.clientFor(p))));
    const clients = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    if (clients.length === 0) await toPublisher; // throws the publisher's own error
    return clients;
  }

  private clientFor(peer: PeerId): Promise<SyncClient> {
    const id = peer.toString();
    const refused = this.refusedFor(peer);
    if (refused) return Promise.reject(refused);
    const key = peerPublicKey(peer);
    if (key && this.opts.team?.revoked.has(key)) return Promise.reject(new Error(`peer ${id} is revoked`));
    this.forgetClientIfClosed(id);
    let client = this.clients.get(id);
    if (!client) {
      const idleMs = this.opts.fetch?.idleMs;
      const connecting = SyncClient.connect(this.host, peer, this.authCredentials(peer), undefined, idleMs ? { idleMs } : {}).then(async (c) => {
        // The peer accepted us: its connections are members, not strangers waiting for AUTH.
        this.server.admitPeer(peer);
        await this.completeOwnChain(c);
        if (this.clients.get(id) === connecting) this.connected.set(id, c);
        if (this.revocationSync) await this.revocationSync.exchange(c);
        return c;
      });
      client = connecting;
      this.clients.set(id, connecting);
      connecting.catch((err) => {
        if (this.clients.get(id) === connecting) this.clients.delete(id);
        if (err instanceof AuthRejectedError) this.onRefusedBy(peer, err);
        else if (key) this.authFailed.set(key, peer);
      });
    }
    return client;
  }

  /** Our credentials, with as many of the revocations we know as AUTH has room for (the newest). */
  private authCredentials(peer: PeerId): Credentials {
    const { capHandle, chain } = this.opts.credentials;
    // Only a peer known as a member is told whom the team revoked.
    if (!this.isMember(peer.toString())) return this.opts.credentials;
    const room = Math.max(0, LIMITS.maxAuthBlobs - chain.length) & ~1; // whole revocations: two blobs each
    const revocations = room > 0 ? (this.opts.team?.revocationBlobs().slice(-room) ?? []) : [];
    return { capHandle, chain: revocations.length ? [...chain, ...revocations] : chain };
  }

  /**
   * A peer refused our capability: said once per peer and reason. A refusal that our missing chain
   * may explain is retried once we hold the chain (completeOwnChain); one that no retry can change
   * (revoked, expired, issued to another key, no read permission) ends our attempts at that peer.
   */
  private onRefusedBy(peer: PeerId, err: AuthRejectedError): void {
    const key = peerPublicKey(peer);
    if (!key) return; // not an Ed25519 identity: never one of ours
    const missingChain = this.opts.credentials.chain.length === 0 && !isZero(this.opts.credentials.capHandle);
    const retrying = !err.refusal || !isPermanent(err.refusal.kind) || (missingChain && err.refusal.kind === "broken-chain");
    if (retrying) this.authFailed.set(key, peer);
    else this.refusedBy.set(key, err);
    const kind = err.refusal?.kind ?? "unknown";
    const said = this.refusalsSaid.get(key) ?? new Set<string>();
    if (this.stopped || said.has(kind)) return;
    said.add(kind);
    this.refusalsSaid.set(key, said);
    this.opts.onEvent?.({ type: "refused-by", peer: peer.toString(), ...(err.refusal ? { refusal: err.refusal } : {}), retrying });
  }

  /** Why `peer` refused us for good, if it did. */
  private refusedFor(peer: PeerId): AuthRejectedError | undefined {
    const key = peerPublicKey(peer);
    return key ? this.refusedBy.get(key) : undefined;
  }

  /** Drops the cached client of a peer if its connection or stream has closed. */
  private forgetClientIfClosed(id: string): void {
    const live = this.connected.get(id);
    if (live && !live.isOpen) this.forgetClient(id);
  }

  /** Drops the cached client of a peer (closing it), so the next request connects afresh. */
  private forgetClient(id: string): void {
    const live = this.connected.get(id);
    this.connected.delete(id);
    this.clients.delete(id);
    if (live) void live.close().catch(() => undefined);
  }

  /**
   * A member's pile may lack the blobs of its own capability (they were written to the issuer's
   * pile). Once a peer accepted us (the issuer can verify us from its own store), fetch the chain
   * from it, store it, and retry the peers that rejected us for lack of it.
   */
  private async completeOwnChain(client: SyncClient): Promise<void> {
    const { capHandle } = this.opts.credentials;
    if (isZero(capHandle) || this.opts.credentials.chain.length > 0) return;
    let wanted: Hash | undefined = capHandle;
    for (let depth = 0; wanted && depth <= MAX_CHAIN_DEPTH * 2 + 1; depth++) {
      let bytes = this.opts.store.reader().get(wanted);
      if (!bytes) {
        const [fetched] = await client.getBlobs([wanted]);
        if (!fetched || !bytesEqual(hash(fetched), wanted)) break;
        this.opts.store.put(fetched);
        bytes = fetched;
      }
      wanted = nextInChain(bytes);
    }
    this.opts.credentials.chain = chainBlobs(capHandle, this.opts.store.reader());
    if (this.opts.credentials.chain.length === 0) return;
    const retry = [...this.authFailed.entries()].map(([, peer]) => peer);
    this.authFailed.clear();
    for (const peer of retry) void this.clientFor(peer).catch(() => undefined);
  }

  /**
   * Runs `work` in the background: a failure becomes one "warning" event and the node goes on (an
   * unhandled rejection would end the process).
   */
  private background(what: string, work: () => Promise<unknown>): void {
    work().catch((err: unknown) => {
      if (this.stopped) return;
      try {
        this.opts.onEvent?.({ type: "warning", message: `${what} failed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}` });
      } catch {}
    });
  }

  /** Peers a new head is pushed to now: those we hold an open, authenticated client for that take pushes. */
  pushPeers(): string[] {
    return [...this.connected].flatMap(([peer, client]) => (client.isOpen && client.pushSupported ? [peer] : []));
  }

  /** Connected peers' ids. */
  connectedPeers(): string[] {
    return this.host.getPeers().map(String);
  }

  /** Stops gossip, fetches, the server and the host. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.peerErrors.stop();
    clearTimeout(this.provideTimer);
    this.lifetime.abort();
    this.gossip.stop();
    this.revocationSync?.stop();
    for (const client of this.clients.values()) void client.then((c) => c.close()).catch(() => undefined);
    await this.server.stop();
    await this.host.stop();
  }
}
