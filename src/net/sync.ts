/**
 * A running sync node: the libp2p host, the pile-sync server, head gossip and fetches, wired to a
 * `Peer` around the local store. Remote heads are fetched in the background (closure first,
 * verified), then handed to the Peer, which moves tracking branches on its next read.
 *
 * The node composes its parts (src/net/node/): the redial loop for given peers (redial.ts), one
 * client per peer (client-cache.ts, with chain completion in own-chain.ts), the queue of wanted
 * heads with retries (fetch-queue.ts) whose work is head-fetch.ts (proof of possession in
 * possession-gate.ts), debounced DHT records (provide-debounce.ts), head push (head-push.ts), and
 * leaving a relay once a peer is reachable directly (direct-path.ts).
 */
import type { PeerId } from "@libp2p/interface";
import type { TeamPolicy } from "../auth/policy.ts";
import type { Refusal } from "../auth/refusal.ts";
import type { Revocation } from "../auth/revocations.ts";
import { isZero, toHex } from "../core/bytes.ts";
import type { BranchId, Hash } from "../core/store.ts";
import { checkLimits, RequestAbandoned } from "./budget.ts";
import { ErrorDigest } from "./error-digest.ts";
import { type HeadFrame, HeadGossip } from "./gossip.ts";
import type { DialTarget } from "./dial-target.ts";
import { createHost, type Host } from "./host.ts";
import { peerIdFromKey, peerIdFromString, peerPublicKey } from "./peer-key.ts";
import { ClientCache } from "./node/client-cache.ts";
import { DirectPath } from "./node/direct-path.ts";
import { DropReporter } from "./node/drop-reporter.ts";
import { FetchQueue } from "./node/fetch-queue.ts";
import { HeadFetcher } from "./node/head-fetch.ts";
import { pushHead, pushPeers } from "./node/head-push.ts";
import { NodeLife } from "./node/life.ts";
import { PossessionGate } from "./node/possession-gate.ts";
import { ProvideDebouncer } from "./node/provide-debounce.ts";
import { Redialer } from "./node/redial.ts";
import { TeamSearch } from "./node/team-search.ts";
import type { SyncNodeOptions } from "./node/types.ts";
import { Peer, type PeerNetwork, type RemoteHead } from "./peer.ts";
import { PublisherChains } from "./publisher-chains.ts";
import { RevocationSync } from "./revocation-sync.ts";
import { SyncServer } from "./server/server.ts";
import { ProtocolError } from "./stream-io.ts";
import { logged, netLogger } from "./log.ts";

const log = netLogger("node");

export type { SyncEvent, SyncNodeOptions } from "./node/types.ts";

/**
 * Gossip of a head we also pushed waits this long: signing and sending it would otherwise sit in
 * front of serving the fetches our pushes start (about 2 ms of W3's 10). Peers reached only by
 * gossip must find and dial a provider before fetching, which costs far more than this.
 */
const GOSSIP_AFTER_PUSH_MS = 10;

/** A running sync node: libp2p host, pile-sync server, gossip and fetches, around `peer`. */
export class SyncNode implements PeerNetwork {
  readonly peer: Peer;
  private delivered: RemoteHead[] = [];
  private deliveredListener: (() => void) | undefined;
  private readonly life: NodeLife;
  private readonly clients: ClientCache;
  private readonly queue: FetchQueue<RemoteHead>;
  private readonly provides: ProvideDebouncer;
  private readonly redial: Redialer;
  /** Looks for more team peers while ours cannot verify us for lack of our chain. */
  readonly teamSearch: TeamSearch;
  private readonly drops: DropReporter;
  /** Moves our clients off a relay once their peer is reachable directly. */
  private readonly directPath: DirectPath;
  private revocationSync: RevocationSync | undefined;
  private chains: PublisherChains | undefined;
  private gossip!: HeadGossip;
  private server!: SyncServer;

  /** Our server's complaints about peers, rate limited into "peer-error" events. */
  private readonly peerErrors: ErrorDigest;

  private constructor(
    readonly host: Host,
    private readonly opts: SyncNodeOptions,
  ) {
    this.peerErrors = new ErrorDigest((line) => opts.onEvent?.({ type: "peer-error", ...line }), opts.peerErrorIntervalMs);
    this.peer = new Peer(opts.store, this, opts.direction ?? "bidirectional", opts.peerEvents ?? {});
    const life = new NodeLife(opts.onEvent);
    this.life = life;
    const clients = new ClientCache({
      host,
      life,
      store: opts.store,
      credentials: opts.credentials,
      team: opts.team,
      idleMs: opts.fetch?.idleMs,
      onAccepted: (peer) => this.server.admitPeer(peer),
      isMember: (peer) => this.isMember(peer),
      revocations: () => this.revocationSync,
      onChainMissing: () => this.teamSearch.request(),
    });
    this.teamSearch = new TeamSearch(host, life, () => opts.credentials.chain.length === 0);
    this.clients = clients;
    const clientFor = (peer: PeerId) => clients.clientFor(peer);
    const fetcher = new HeadFetcher({
      host,
      life,
      store: opts.store,
      node: opts,
      queue: () => this.queue,
      gate: new PossessionGate(opts.store, life, opts.readScopeOf, clientFor),
      clientFor,
      forgetClient: (id) => clients.forget(id),
      forgetClientIfClosed: (id) => clients.forgetIfClosed(id),
      stillAdmitted: (remote) => this.stillAdmitted(remote),
      deliver: (remote, fetched) => {
        this.delivered.push(remote);
        if (fetched) {
          this.provides.provide(remote.branchId, remote.head);
          const { publisher, summary, proven } = fetched;
          life.emit({ type: "fetched", publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head), summary, proven });
        }
        this.deliveredListener?.();
      },
    });
    this.queue = new FetchQueue(life, (key, remote) => fetcher.fetch(key, remote));
    this.provides = new ProvideDebouncer(host, life);
    this.redial = new Redialer(host, life, (peer) => clients.refusedFor(peer) !== undefined);
    this.drops = new DropReporter(life, opts.team);
    this.directPath = new DirectPath(host, (peer) => clients.leaveRelay(peer));
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
      ...(opts.listenFallback ? { listenFallback: true } : {}),
      ...(opts.directOnly ? { directOnly: true } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
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
      onDrop: (reason, frame) => node.drops.report(reason, frame),
      ...(opts.republishMs ? { republishMs: opts.republishMs } : {}),
    });
    node.gossip.start();
    if (opts.team) node.joinTeam(opts.team);
    opts.onEvent?.({ type: "listening", peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map(String) });
    // Authenticate to every peer as soon as it connects, so each side knows the other's capability
    // before gossip arrives (gossip is admitted only from peers with a verified capability).
    host.addEventListener("peer:connect", (evt: CustomEvent<PeerId>) => void node.clients.clientFor(evt.detail).catch(logged(log, `authenticating to ${evt.detail}`)));
    node.directPath.start();
    // A client lives on its connection: once that closes, the next request must open a new one.
    host.addEventListener("peer:disconnect", (evt: CustomEvent<PeerId>) => node.clients.forget(evt.detail.toString()));
    // New subscribers get our heads right away rather than at the next periodic republish.
    host.services.pubsub.addEventListener("subscription-change", () => node.gossip.welcome());
    // Each given peer's first dial is awaited, so a caller sees it connected (or failed) on return;
    // remembered ones (maybe long gone, looked up in the DHT) are dialled in the background.
    const peers = opts.peers ?? [];
    const remembered = (p: string | DialTarget) => typeof p !== "string" && p.remembered === true;
    for (const p of peers.filter(remembered)) node.life.background(`dialling ${(p as DialTarget).text}`, () => node.redial.keepConnected(p));
    await Promise.all(peers.filter((p) => !remembered(p)).map((p) => node.redial.keepConnected(p)));
    return node;
  }

  /** Wires the team policy in: revocations spread, lost access is cut off, relayed publishers are looked up. */
  private joinTeam(team: TeamPolicy): void {
    const liveClients = () => this.clients.live();
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
    if (this.life.stopped) return;
    // Also a revoked key that never authenticated to us (we only dialled it): we stop talking to it.
    this.disconnect(rev.target);
    this.opts.onEvent?.({ type: "revocation", target: rev.target, peer: peerIdFromKey(rev.target).toString(), ...(rev.atNs === undefined ? {} : { atNs: rev.atNs }), from });
  }

  /**
   * A key lost access (revoked or expired): nothing more is served to it (its grants end and its
   * connections close), no fetch of its heads goes on, and no client of ours talks to it.
   */
  private endAccess(key: Uint8Array, refusal: Refusal): void {
    if (this.life.stopped) return;
    const connections = this.server.cutOff(key);
    this.disconnect(key);
    this.opts.onEvent?.({ type: "access-ended", peer: peerIdFromKey(key).toString(), remoteKey: key, refusal, connections });
  }

  /** Closes our client to a key and every connection with it, and drops the fetches of its heads. */
  private disconnect(key: Uint8Array): void {
    const peer = peerIdFromKey(key);
    this.clients.forget(peer.toString());
    this.queue.forget(toHex(key));
    if (this.host.getConnections(peer).length > 0) void this.host.hangUp(peer).catch(logged(log, `hanging up on ${peer}`));
  }

  /** Whether a head of this publisher may still be acted on (a revocation may have come meanwhile). */
  private stillAdmitted(remote: RemoteHead): boolean {
    return this.opts.team ? this.opts.team.admits(remote.publisher, remote.branchId) : true;
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
    const pushed = pushHead(this.life, this.clients.connectedClients, this.opts.key.publicKey, branchId, head);
    this.life.background("publishing a head", () => this.gossip.publish(branchId, head, pushed > 0 ? GOSSIP_AFTER_PUSH_MS : 0));
    this.provides.provide(branchId, head);
  }

  announce(_hashes: Hash[]): void {
    // Provider records are placed for branch heads only (see provide-debounce.ts): a stored head implies its
    // whole closure is stored, so one record per head says everything a fetch needs, while a record
    // per blob would cost a DHT operation per blob.
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
    if (!this.life.stopped && this.host.getConnections(publisher).length === 0) void this.clients.clientFor(publisher).catch(logged(log, `contacting publisher ${publisher}`));
    // A publisher we never authenticated: judge it by the chain our peers verified for it.
    if (team && this.chains && !team.capabilityOf(frame.publisher)) await this.chains.lookup(frame.publisher);
    if (this.opts.admit) return this.opts.admit(frame);
    return team ? team.admits(frame.publisher, frame.branchId) : true;
  }

  private onRemoteHead(frame: HeadFrame): void {
    if (this.life.stopped || this.peer.direction === "writeonly") return;
    this.queue.want(toHex(frame.publisher) + toHex(frame.branchId), { ...frame, receivedAt: Date.now() });
  }

  /** Peers a new head is pushed to now: those we hold an open, authenticated client for that take pushes. */
  pushPeers(): string[] {
    return pushPeers(this.clients.connectedClients);
  }

  /** Connected peers' ids. */
  connectedPeers(): string[] {
    return this.host.getPeers().map(String);
  }

  /** Stops gossip, fetches, the server and the host. */
  async stop(): Promise<void> {
    this.life.stop();
    this.directPath.stop();
    this.queue.stop();
    this.peerErrors.stop();
    this.provides.stop();
    this.gossip.stop();
    this.revocationSync?.stop();
    this.clients.closeAll();
    await this.server.stop();
    await this.host.stop();
  }
}
