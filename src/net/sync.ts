/**
 * A running sync node: the libp2p host, the pile-sync server, head gossip and fetches, wired to a
 * `Peer` around the local store. Remote heads are fetched in the background (closure first,
 * verified), then handed to the Peer, which moves tracking branches on its next read.
 */
import type { PeerId } from "@libp2p/interface";
import { MAX_CHAIN_DEPTH } from "../auth/attributes.ts";
import { chainBlobs, nextInChain } from "../auth/capability.ts";
import { hash } from "../core/blake3.ts";
import { bytesEqual, isZero, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { BranchId, Hash, Store } from "../core/store.ts";
import { type Credentials, SyncClient } from "./client.ts";
import { fetchClosure, type FetchSummary } from "./fetch.ts";
import { type HeadFrame, HeadGossip } from "./gossip.ts";
import { createHost, dialAll, type Host, peerIdFromKey, peerIdFromString } from "./host.ts";
import { type PeerEvents, Peer, type PeerNetwork, type RemoteHead, type SyncDirection } from "./peer.ts";
import { type AccessPolicy, SyncServer } from "./protocol.ts";

export type SyncEvent =
  | { type: "listening"; peerId: string; addrs: string[] }
  | { type: "fetched"; publisher: string; branchId: string; head: string; summary: FetchSummary }
  | { type: "fetch-failed"; publisher: string; branchId: string; error: string }
  | { type: "dial-failed"; addr: string; error: string }
  | { type: "gossip-dropped"; reason: string }
  | { type: "auth"; peer: string; remoteKey: Uint8Array; accepted: boolean }
  | { type: "warning"; message: string };

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
  direction?: SyncDirection;
  listen?: string[];
  peers?: string[];
  mdns?: boolean;
  republishMs?: number;
  onEvent?: (event: SyncEvent) => void;
  peerEvents?: PeerEvents;
}

export class SyncNode implements PeerNetwork {
  readonly peer: Peer;
  private delivered: RemoteHead[] = [];
  private readonly clients = new Map<string, Promise<SyncClient>>();
  private readonly authFailed = new Set<string>();
  /** Latest wanted head per (publisher, branch); fetches run one at a time per branch. */
  private readonly wanted = new Map<string, RemoteHead>();
  private readonly running = new Set<string>();
  private deliveredListener: (() => void) | undefined;
  private gossip!: HeadGossip;
  private server!: SyncServer;
  private stopped = false;

  private constructor(
    readonly host: Host,
    private readonly opts: SyncNodeOptions,
  ) {
    this.peer = new Peer(opts.store, this, opts.direction ?? "bidirectional", opts.peerEvents ?? {});
  }

  static async start(opts: SyncNodeOptions): Promise<SyncNode> {
    const host = await createHost({
      key: opts.key,
      ...(opts.listen ? { listen: opts.listen } : {}),
      mdns: opts.mdns ?? false,
      onWarning: (message) => opts.onEvent?.({ type: "warning", message }),
    });
    const node = new SyncNode(host, opts);
    node.server = new SyncServer(host, opts.store, opts.policy, {
      onAuth: (remoteKey, accepted) => opts.onEvent?.({ type: "auth", peer: peerIdFromKey(remoteKey).toString(), remoteKey, accepted }),
    });
    await node.server.start();
    node.gossip = new HeadGossip({
      pubsub: host.services.pubsub,
      teamRoot: opts.teamRoot,
      self: opts.key.publicKey,
      ...(opts.admit ? { admit: opts.admit } : {}),
      onHead: (frame) => node.onRemoteHead(frame),
      onDrop: (reason) => opts.onEvent?.({ type: "gossip-dropped", reason }),
      ...(opts.republishMs ? { republishMs: opts.republishMs } : {}),
    });
    node.gossip.start();
    opts.onEvent?.({ type: "listening", peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map(String) });
    // Authenticate to every peer as soon as it connects, so each side knows the other's capability
    // before gossip arrives (gossip is admitted only from peers with a verified capability).
    host.addEventListener("peer:connect", (evt: CustomEvent<PeerId>) => void node.clientFor(evt.detail).catch(() => undefined));
    // New subscribers get our heads right away rather than at the next periodic republish.
    host.services.pubsub.addEventListener("subscription-change", () => void node.gossip.republish());
    for (const failure of await dialAll(host, opts.peers ?? [])) opts.onEvent?.({ type: "dial-failed", ...failure });
    return node;
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
    void this.gossip.publish(branchId, head);
  }

  announce(_hashes: Hash[]): void {
    // Provider records are announced for branch heads only (see publishHead); announcing every blob
    // to the DHT costs a network operation per blob and buys nothing while the publisher serves them.
  }

  private onRemoteHead(frame: HeadFrame): void {
    if (this.stopped || this.peer.direction === "writeonly") return;
    const key = toHex(frame.publisher) + toHex(frame.branchId);
    this.wanted.set(key, { ...frame, receivedAt: Date.now() });
    if (!this.running.has(key)) void this.fetchLoop(key);
  }

  private async fetchLoop(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let remote = this.wanted.get(key); remote && !this.stopped; remote = this.wanted.get(key)) {
        this.wanted.delete(key);
        const publisher = peerIdFromKey(remote.publisher);
        try {
          const client = await this.clientFor(publisher);
          const summary = await fetchClosure(client, remote.head, this.opts.store);
          this.delivered.push(remote);
          this.opts.onEvent?.({ type: "fetched", publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head), summary });
          this.deliveredListener?.();
        } catch (err) {
          this.clients.delete(publisher.toString());
          const error = err instanceof Error ? err.message : String(err);
          this.opts.onEvent?.({ type: "fetch-failed", publisher: publisher.toString(), branchId: toHex(remote.branchId), error });
        }
      }
    } finally {
      this.running.delete(key);
    }
  }

  private clientFor(peer: PeerId): Promise<SyncClient> {
    const id = peer.toString();
    let client = this.clients.get(id);
    if (!client) {
      client = SyncClient.connect(this.host, peer, this.opts.credentials).then(async (c) => {
        await this.completeOwnChain(c);
        return c;
      });
      this.clients.set(id, client);
      client.catch(() => {
        this.clients.delete(id);
        this.authFailed.add(id);
      });
    }
    return client;
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
    const retry = [...this.authFailed];
    this.authFailed.clear();
    for (const id of retry) void this.clientFor(peerIdFromString(id)).catch(() => undefined);
  }


  /** Connected peers' ids. */
  connectedPeers(): string[] {
    return this.host.getPeers().map(String);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.gossip.stop();
    for (const client of this.clients.values()) void client.then((c) => c.close()).catch(() => undefined);
    await this.server.stop();
    await this.host.stop();
  }
}
