/**
 * One authenticated client per peer, shared by every fetch, push and exchange of a sync node; and
 * what the node remembers about peers that refused our capability.
 */
import type { PeerId } from "@libp2p/interface";
import type { TeamPolicy } from "../../auth/policy.ts";
import { isPermanent } from "../../auth/refusal.ts";
import { isZero } from "../../core/bytes.ts";
import { KeyedMap } from "../../core/keyed-map.ts";
import type { Store } from "../../core/store.ts";
import { AuthRejectedError, type Credentials, MovedToDirectError, SyncClient } from "../client.ts";
import type { Host } from "../host.ts";
import { peerPublicKey } from "../peer-key.ts";
import { hasDirect } from "../relay.ts";
import type { RevocationSync } from "../revocation-sync.ts";
import { LIMITS } from "../wire.ts";
import type { NodeLife } from "./life.ts";
import { completeOwnChain } from "./own-chain.ts";
import { logged, netLogger } from "../log.ts";

const log = netLogger("node:clients");

/** Peers remembered in the tables keyed by whoever connected (authFailed, refusedBy, refusalsSaid). */
const MAX_PEERS_REMEMBERED = 4096;

export interface ClientCacheOptions {
  host: Host;
  life: NodeLife;
  store: Store;
  /** What we present (its chain is completed in place, see own-chain.ts). */
  credentials: Credentials;
  team: TeamPolicy | undefined;
  /** ClientOptions.idleMs of every client. */
  idleMs: number | undefined;
  /** The peer accepted us (the server then treats its connections as members). */
  onAccepted(peer: PeerId): void;
  /** Whether a peer presented a capability that verifies here. */
  isMember(peer: string): boolean;
  /** Revocations are exchanged with each new client when the node runs a team. */
  revocations(): RevocationSync | undefined;
  /** A peer refused us for lack of our own chain: look for peers that may hold it (team-search.ts). */
  onChainMissing?(): void;
}

export class ClientCache {
  private readonly clients = new Map<string, Promise<SyncClient>>();
  /** The clients of `clients` that have connected, to tell a live one from one whose connection closed. */
  private readonly connected = new Map<string, SyncClient>();
  /**
   * Peers whose AUTH failed in a way our missing chain may explain, by key: asked again once we
   * hold it. This and the next two tables are keyed by the keys of whoever connected (strangers
   * included, each bringing a key of its choosing): seeded, and bounded by MAX_PEERS_REMEMBERED.
   */
  private readonly authFailed = new KeyedMap<PeerId>(MAX_PEERS_REMEMBERED);
  /** Peers that refused our capability for good (see isPermanent), with the error; not asked again. */
  private readonly refusedBy = new KeyedMap<AuthRejectedError>(MAX_PEERS_REMEMBERED);
  /** Refusal kinds already reported per peer key, so each refusal is said once. */
  private readonly refusalsSaid = new KeyedMap<Set<string>>(MAX_PEERS_REMEMBERED);

  constructor(private readonly opts: ClientCacheOptions) {}

  /** The peer's client, connecting (and authenticating) when there is none or its connection closed. */
  clientFor(peer: PeerId): Promise<SyncClient> {
    const id = peer.toString();
    const refused = this.refusedFor(peer);
    if (refused) return Promise.reject(refused);
    const key = peerPublicKey(peer);
    if (key && this.opts.team?.revoked.has(key)) return Promise.reject(new Error(`peer ${id} is revoked`));
    this.forgetIfClosed(id);
    let client = this.clients.get(id);
    if (!client) {
      const idleMs = this.opts.idleMs;
      const connecting = SyncClient.connect(this.opts.host, peer, this.authCredentials(peer), undefined, idleMs ? { idleMs } : {}).then(async (c) => {
        // A direct connection opened while this one connected through a relay: it is the one to use.
        if (c.relayed && hasDirect(this.opts.host, peer)) {
          c.moveToDirect();
          throw new MovedToDirectError(id);
        }
        // The peer accepted us: its connections are members, not strangers waiting for AUTH.
        this.opts.onAccepted(peer);
        if (await completeOwnChain(c, this.opts.credentials, this.opts.store)) this.retryAuthFailed();
        if (this.clients.get(id) === connecting) this.connected.set(id, c);
        const revocations = this.opts.revocations();
        if (revocations) await revocations.exchange(c);
        return c;
      });
      client = connecting;
      this.clients.set(id, connecting);
      connecting.catch((err) => {
        if (this.clients.get(id) === connecting) this.clients.delete(id);
        if (err instanceof MovedToDirectError) return;
        if (err instanceof AuthRejectedError) this.onRefusedBy(peer, err);
        else if (key) this.authFailed.set(key, peer);
      });
    }
    return client;
  }

  /** Why `peer` refused us for good, if it did. */
  refusedFor(peer: PeerId): AuthRejectedError | undefined {
    const key = peerPublicKey(peer);
    return key ? this.refusedBy.get(key) : undefined;
  }

  /** Drops the cached client of a peer if its connection or stream has closed. */
  forgetIfClosed(id: string): void {
    const live = this.connected.get(id);
    if (live && !live.isOpen) this.forget(id);
  }

  /** Drops the cached client of a peer (closing it), so the next request connects afresh. */
  forget(id: string): void {
    const live = this.connected.get(id);
    this.connected.delete(id);
    this.clients.delete(id);
    if (live) void live.close().catch(logged(log, `closing the client of ${id}`));
  }

  /**
   * `peer` is reachable directly now: our client on a relayed connection to it, if any, leaves the
   * relay (its requests fail with MovedToDirectError, made again on a client over the direct
   * connection, see head-fetch.ts). One still connecting through the relay does the same once
   * connected (clientFor).
   */
  leaveRelay(peer: PeerId): void {
    const id = peer.toString();
    const live = this.connected.get(id);
    if (!live?.relayed) return;
    log("%s is reachable directly: leaving its relayed connection", id);
    this.connected.delete(id);
    this.clients.delete(id);
    live.moveToDirect();
  }

  /** Connected clients whose connection is open. */
  live(): SyncClient[] {
    return [...this.connected.values()].filter((c) => c.isOpen);
  }

  /** Connected clients by peer id (some may have closed since). */
  get connectedClients(): ReadonlyMap<string, SyncClient> {
    return this.connected;
  }

  /** Closes every client (at stop). */
  closeAll(): void {
    for (const client of this.clients.values()) void client.then((c) => c.close()).catch(logged(log, "closing a client at stop"));
  }

  /** Our credentials, with as many of the revocations we know as AUTH has room for (the newest). */
  private authCredentials(peer: PeerId): Credentials {
    const { capHandle, chain } = this.opts.credentials;
    // Only a peer known as a member is told whom the team revoked.
    if (!this.opts.isMember(peer.toString())) return this.opts.credentials;
    const room = Math.max(0, LIMITS.maxAuthBlobs - chain.length) & ~1; // whole revocations: two blobs each
    const revocations = room > 0 ? (this.opts.team?.revocationBlobs().slice(-room) ?? []) : [];
    return { capHandle, chain: revocations.length ? [...chain, ...revocations] : chain };
  }

  /** Our chain is complete now: the peers that rejected us for lack of it are asked again. */
  private retryAuthFailed(): void {
    const retry = [...this.authFailed.entries()].map(([, peer]) => peer);
    this.authFailed.clear();
    for (const peer of retry) void this.clientFor(peer).catch(logged(log, "asking a peer again with our chain"));
  }

  /**
   * A peer refused our capability: said once per peer and reason. A refusal that our missing chain
   * may explain is retried once we hold the chain (own-chain.ts); one that no retry can change
   * (revoked, expired, issued to another key, no read permission) ends our attempts at that peer.
   */
  private onRefusedBy(peer: PeerId, err: AuthRejectedError): void {
    const key = peerPublicKey(peer);
    if (!key) return; // not an Ed25519 identity: never one of ours
    const missingChain = this.opts.credentials.chain.length === 0 && !isZero(this.opts.credentials.capHandle);
    const retrying = !err.refusal || !isPermanent(err.refusal.kind) || (missingChain && err.refusal.kind === "broken-chain");
    if (retrying) this.authFailed.set(key, peer);
    else this.refusedBy.set(key, err);
    if (missingChain && err.refusal?.kind === "broken-chain") this.opts.onChainMissing?.();
    const kind = err.refusal?.kind ?? "unknown";
    const said = this.refusalsSaid.get(key) ?? new Set<string>();
    if (this.opts.life.stopped || said.has(kind)) return;
    said.add(kind);
    this.refusalsSaid.set(key, said);
    this.opts.life.emit({ type: "refused-by", peer: peer.toString(), ...(err.refusal ? { refusal: err.refusal } : {}), retrying });
  }
}
