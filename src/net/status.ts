/**
 * What `tribles pile net status` shows of a running sync: each connected peer, whether the
 * connection is direct or relayed (and through which relay), its transport, round-trip time (a
 * libp2p ping when asked), bytes each way and the last heads exchanged with it.
 *
 * Bytes are counted on the protocol streams (payload after decryption and demultiplexing, so the
 * same figure over QUIC and TCP) by `ByteCounter`, the node's libp2p metrics component.
 */
import type { Connection, Metrics, PeerId, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { toHex } from "../core/bytes.ts";
import { type Host, isRelayedAddr } from "./host.ts";
import type { TeamSyncEvent } from "./team-sync.ts";

/** A head exchanged with a peer. */
export interface HeadSeen {
  branchId: string;
  head: string;
  /** unix ms */
  at: number;
  /** How it went: "fetched" from it, "push" to it, "gossip" to the team while it was connected. */
  via: "fetched" | "push" | "gossip";
}

export interface PeerStatus {
  peer: string;
  path: "direct" | "relayed";
  /** The relay's PeerId when relayed. */
  relay: string | null;
  /** "quic", "tcp" or "circuit" (the relay's own transport is that relay's business). */
  transport: string;
  remoteAddr: string;
  direction: "inbound" | "outbound";
  /** How many connections we hold to it (the first, by preference direct, is described). */
  connections: number;
  /** Round-trip time of a ping just now (null: no answer within the status timeout). */
  rttMs: number | null;
  bytesIn: number;
  bytesOut: number;
  /** Whether it authenticated to us with a valid capability. */
  member: boolean;
  lastHeadReceived: HeadSeen | null;
  lastHeadSent: HeadSeen | null;
}

export interface NodeStatus {
  peerId: string;
  listen: string[];
  directOnly: boolean;
  peers: PeerStatus[];
}

/** How long a status waits for each peer's ping. */
export const STATUS_PING_MS = 2000;

interface Counts {
  bytesIn: number;
  bytesOut: number;
}

/** Follows a running node's connections and events, and describes them on request. */
export class StatusTracker {
  private readonly members = new Set<string>();
  private readonly received = new Map<string, HeadSeen>();
  private readonly sent = new Map<string, HeadSeen>();

  constructor(
    private readonly host: Host,
    private readonly counter: ByteCounter | undefined,
    private readonly directOnly = false,
  ) {
    host.addEventListener("peer:disconnect", this.forget);
  }

  private readonly forget = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString();
    this.members.delete(id);
  };

  /** Feeds the sync's events in: who authenticated, which heads came and went. */
  onEvent(e: TeamSyncEvent): void {
    const now = Date.now();
    if (e.type === "auth" && e.accepted) this.members.add(e.peer);
    else if (e.type === "fetched") this.received.set(e.publisher, { branchId: e.branchId, head: e.head, at: now, via: "fetched" });
    else if (e.type === "head-pushed" && e.result === "accepted") this.sent.set(e.peer, { branchId: e.branchId, head: e.head, at: now, via: "push" });
    else if (e.type === "published") {
      const head = { branchId: toHex(e.branchId), head: toHex(e.head), at: now, via: "gossip" as const };
      for (const peer of this.host.getPeers()) {
        const id = peer.toString();
        // A push of this very head says more than gossip; it is reported after this event.
        if (this.sent.get(id)?.head !== head.head) this.sent.set(id, head);
      }
    }
  }

  /** The node and its connected peers now, each pinged (in parallel, within STATUS_PING_MS). */
  async status(): Promise<NodeStatus> {
    const peers = await Promise.all(this.host.getPeers().map((peer) => this.peerStatus(peer)));
    return {
      peerId: this.host.peerId.toString(),
      listen: this.host.getMultiaddrs().map(String),
      directOnly: this.directOnly,
      peers: peers.filter((p): p is PeerStatus => p !== null).sort((a, b) => a.peer.localeCompare(b.peer)),
    };
  }

  private async peerStatus(peer: PeerId): Promise<PeerStatus | null> {
    const connections = this.host.getConnections(peer).filter((c) => c.status === "open");
    if (connections.length === 0) return null;
    const first = connections.find((c) => !isRelayedAddr(c.remoteAddr)) ?? connections[0]!;
    const relayed = isRelayedAddr(first.remoteAddr);
    let bytesIn = 0;
    let bytesOut = 0;
    for (const c of connections) {
      const n = this.counter?.of(c);
      bytesIn += n?.bytesIn ?? 0;
      bytesOut += n?.bytesOut ?? 0;
    }
    const id = peer.toString();
    return {
      peer: id,
      path: relayed ? "relayed" : "direct",
      relay: relayed ? relayOf(first.remoteAddr) : null,
      transport: relayed ? "circuit" : transportOf(first.remoteAddr),
      remoteAddr: first.remoteAddr.toString(),
      direction: first.direction,
      connections: connections.length,
      rttMs: await this.ping(peer),
      bytesIn,
      bytesOut,
      member: this.members.has(id),
      lastHeadReceived: this.received.get(id) ?? null,
      lastHeadSent: this.sent.get(id) ?? null,
    };
  }

  private async ping(peer: PeerId): Promise<number | null> {
    const ping = this.host.services.ping as { ping(peer: PeerId, options: { signal: AbortSignal }): Promise<number> } | undefined;
    if (!ping) return null;
    try {
      return await ping.ping(peer, { signal: AbortSignal.timeout(STATUS_PING_MS) });
    } catch {
      return null;
    }
  }

  stop(): void {
    this.host.removeEventListener("peer:disconnect", this.forget);
  }
}

/** The relay's PeerId in a circuit address (/…/p2p/RELAY/p2p-circuit/p2p/PEER). */
export function relayOf(addr: Multiaddr): string | null {
  const parts = addr.getComponents();
  const circuit = parts.findIndex((c) => c.name === "p2p-circuit");
  for (let i = circuit - 1; i >= 0; i--) if (parts[i]!.name === "p2p") return parts[i]!.value ?? null;
  return null;
}

/** "quic", "tcp", or the address's last transport component. */
export function transportOf(addr: Multiaddr): string {
  const names = addr.getComponents().map((c) => c.name);
  if (names.includes("quic-v1") || names.includes("quic")) return "quic";
  if (names.includes("tcp")) return names.includes("ws") || names.includes("wss") ? "websocket" : "tcp";
  return names.at(-1) ?? "unknown";
}

const noop = () => {};
/** One object for every metric libp2p and its services register: they are not kept. */
const NO_METRIC = { update: noop, increment: noop, decrement: noop, reset: noop, observe: noop, addCollect: noop, timer: () => noop };

/**
 * Bytes each way per connection, as libp2p's metrics component (the one hook that sees every
 * protocol stream, inbound and outbound, on every transport). Other metrics are not kept. A new
 * stream is matched to its connection among the open ones (streams are few per connection).
 */
export class ByteCounter implements Metrics {
  private readonly counts = new WeakMap<Connection, Counts>();
  private connections: () => Connection[] = () => [];

  /** The factory libp2p's `metrics` option takes. */
  readonly component = (components: { connectionManager: { getConnections(): Connection[] } }): Metrics => {
    this.connections = () => components.connectionManager.getConnections();
    return this;
  };

  of(connection: Connection): Counts | undefined {
    return this.counts.get(connection);
  }

  trackMultiaddrConnection(): void {}

  /** Counts what is handed to `send` and what the transport hands the stream (`onData`). */
  trackProtocolStream(stream: Stream): void {
    const connection = this.connections().find((c) => c.streams.includes(stream));
    if (!connection) return;
    let counts = this.counts.get(connection);
    if (!counts) {
      counts = { bytesIn: 0, bytesOut: 0 };
      this.counts.set(connection, counts);
    }
    const c = counts;
    const s = stream as Stream & { onData?: (data: { byteLength: number }) => void };
    const send = s.send.bind(s);
    s.send = (data) => {
      c.bytesOut += data.byteLength;
      return send(data);
    };
    const onData = typeof s.onData === "function" ? s.onData.bind(s) : undefined;
    if (onData) {
      s.onData = (data) => {
        c.bytesIn += data.byteLength;
        onData(data);
      };
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: the Metrics interface's overloads.
  registerMetric = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerMetricGroup = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerCounter = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerCounterGroup = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerHistogram = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerHistogramGroup = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerSummary = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  registerSummaryGroup = (() => NO_METRIC) as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  traceFunction = ((_name: string, fn: any) => fn) as any;
  createTrace(): undefined {
    return undefined;
  }
}
