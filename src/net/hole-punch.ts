/**
 * Hole punching (DCUtR) between peers behind NATs, over TCP: libp2p's DCUtR service, driven and
 * adjusted here so that it can succeed.
 *
 * - Our NAT mapping: the TCP address a team relay sees our dials come from (tcp-dial-port.ts makes
 *   every dial leave from one port, so one mapping serves all). identify keeps no TCP observed
 *   address, so it is taken from the relay's identify answer here.
 * - It is offered only in DCUtR's exchange, never announced (identify, peer records): nothing
 *   listens there, and a peer dialling it outside a hole punch would meet our own dial as a
 *   simultaneous open in which both sides start the handshake, which fails.
 * - As in DCUtR, the side a relayed connection came in to starts the attempt (two at once on one
 *   connection would cross), once it knows its mapping: when the connection is identified, when
 *   our mapping is learned or changes, and when the peer identifies again after an attempt in
 *   which it offered nothing (a peer that learns its mapping pushes its identify for that).
 *   libp2p's own attempt, run as the relayed connection opens, usually before either side knows
 *   its mapping, is switched off.
 * - DCUtR's dials go to the TCP transport directly, not through libp2p's dial queue, which would
 *   drop the second dial's responding role and join a pending relayed dial, and that dial's
 *   connection is marked inbound so that the muxer responds too (`respondingDials`).
 *
 * QUIC cannot punch here: @chainsafe/libp2p-quic dials from a client-only endpoint that refuses
 * the peer's incoming handshake, so only TCP mappings are offered.
 */
import type { Connection, IdentifyResult, PeerId } from "@libp2p/interface";
import { CODE_P2P, type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Host } from "./host.ts";
import { describe, logged, netLogger } from "./log.ts";

const log = netLogger("hole-punch");

/** Addresses a hole-punching dial tries at most (the peer chose them). */
const MAX_PUNCH_ADDRS = 4;

export type HolePunchEvent = { type: "hole-punch"; peer: string; direct: boolean; addr?: string };

/** The parts of libp2p's DCUtR service used here (its class keeps them private). */
interface DcutrService {
  upgradeInbound(conn: Connection): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: libp2p's internal components.
  connectionManager: any;
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  addressManager: any;
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  registrar: any;
  topologyId?: string;
}

export class HolePuncher {
  private stopped = false;
  /** Our NAT's TCP mappings (multiaddrs with our /p2p/ id), as the relays reported them. */
  private readonly mappings = new Set<string>();
  /**
   * Peers an attempt is running for; per relayed connection, the mappings its last attempt that
   * reached the dial offered (the attempt is not repeated with them).
   */
  private readonly running = new Set<string>();
  private readonly dialledWith = new WeakMap<Connection, string>();
  /** Peers whose attempt reached the dial (both sides offered a mapping) during the current run. */
  private readonly dialled = new Set<string>();
  /** The connection each peer's last hole punching dial made. */
  private readonly punched = new Map<string, Connection>();

  private constructor(
    private readonly host: Host,
    private readonly service: DcutrService,
    private readonly isRelay: (peer: PeerId) => boolean,
    private readonly onEvent: (e: HolePunchEvent) => void,
    private readonly onMappings: () => void,
  ) {}

  /** Takes over the host's DCUtR service; undefined when the host has none. */
  static start(host: Host, isRelay: (peer: PeerId) => boolean, onEvent: (e: HolePunchEvent) => void, onMappings: () => void): HolePuncher | undefined {
    const services = host.services as Record<string, unknown>;
    const service = services.dcutr as DcutrService | undefined;
    if (!service || typeof service.upgradeInbound !== "function" || !service.connectionManager || !service.addressManager) return undefined;
    const p = new HolePuncher(host, service, isRelay, onEvent, onMappings);
    if (service.topologyId !== undefined) service.registrar?.unregister(service.topologyId);
    service.addressManager = p.offeredAddresses(service.addressManager);
    service.connectionManager = p.respondingDials(service.connectionManager);
    host.addEventListener("peer:identify", p.onIdentify);
    return p;
  }

  stop(): void {
    this.stopped = true;
    this.host.removeEventListener("peer:identify", this.onIdentify);
  }

  /** Our NAT's TCP mappings, offered to peers for hole punching only. */
  get mapped(): string[] {
    return [...this.mappings];
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    const { peerId, observedAddr, connection } = evt.detail;
    if (this.isRelay(peerId) && observedAddr && connection.direction === "outbound" && isTcpAddr(observedAddr) && isPublicAddr(observedAddr)) {
      this.learn(observedAddr);
    }
    if (connection.direction === "inbound" && isRelayed(connection)) this.attempt(connection);
  };

  private learn(observed: Multiaddr): void {
    const key = observed.decapsulateCode(CODE_P2P).encapsulate(`/p2p/${this.host.peerId}`).toString();
    if (this.mappings.has(key)) return;
    log("our NAT maps TCP dials to %s", key);
    this.mappings.add(key);
    this.onMappings();
    for (const conn of this.host.getConnections()) if (isRelayed(conn) && conn.direction === "inbound") this.attempt(conn);
    // Peers we reached through a relay start the attempt: tell them to try again, now we have a mapping to offer.
    const push = (this.host.services as Record<string, unknown>).identifyPush as { push(): Promise<void> } | undefined;
    push?.push().catch(logged(log, "pushing our identify"));
  }

  /** One DCUtR run on `conn` (relayed), unless one runs for its peer, it is direct already, or nothing changed. */
  private attempt(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    const key = this.mapped.join(" ");
    if (this.stopped || key === "" || conn.status !== "open" || this.running.has(peer) || this.dialledWith.get(conn) === key || this.directTo(conn.remotePeer)) return;
    this.running.add(peer);
    this.dialled.delete(peer);
    this.punched.delete(peer);
    log("hole punching to %s (offering %s)", peer, key);
    void this.service
      .upgradeInbound(conn)
      .catch(logged(log, `hole punching to ${peer}`))
      .finally(() => {
        this.running.delete(peer);
        // Only attempts that dialled say how they ended: one where the peer offered no mapping yet is retried when it learns one.
        if (this.stopped || !this.dialled.delete(peer)) return;
        this.dialledWith.set(conn, key);
        // The punched connection may not be among the host's yet (the connection manager adds it on its open event).
        const punched = this.punched.get(peer);
        this.punched.delete(peer);
        const direct = punched?.status === "open" ? punched : this.directTo(conn.remotePeer);
        this.onEvent({ type: "hole-punch", peer, direct: !!direct, ...(direct ? { addr: direct.remoteAddr.toString() } : {}) });
      });
  }

  private directTo(peer: PeerId): Connection | undefined {
    return this.host.getConnections(peer).find((c) => c.status === "open" && !isRelayed(c));
  }

  /** The addresses DCUtR offers a peer: our mappings and our direct addresses, no relayed ones. */
  // biome-ignore lint/suspicious/noExplicitAny: libp2p's address manager is internal.
  private offeredAddresses(addresses: any): any {
    return new Proxy(addresses, {
      get: (target, key) => {
        if (key !== "getAddresses") return Reflect.get(target, key, target);
        return () => [...this.mappings].map((a) => multiaddr(a)).concat((target.getAddresses() as Multiaddr[]).filter((a) => !isRelayedAddr(a)));
      },
    });
  }

  /**
   * DCUtR's dials go to the TCP transport directly, address by address, for two reasons. The second dial must take the responding role of the connection's handshakes, as
   * DCUtR asks with `initiator: false`: over TCP both dials become one connection (simultaneous
   * open), and one side must answer the other's noise and multistream-select messages; libp2p's
   * dial queue drops that option (both sides then speak first: "handshake stage 1 validation
   * fail"). And the queue joins a dial to a peer with any dial already pending for it, such as the
   * node's own dial through the relay, whose relayed connection it then returns as the punched one.
   * The connection manager learns of the connection from its open event, as of any other.
   */
  // biome-ignore lint/suspicious/noExplicitAny: libp2p's connection manager is internal.
  private respondingDials(manager: any): any {
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    const components = (this.host as any).components;
    const upgrader = respondingUpgrader(components.upgrader);
    return new Proxy(manager, {
      get: (target, key) => {
        if (key !== "openConnection") return Reflect.get(target, key, target);
        return async (addrs: Multiaddr | Multiaddr[], options: { initiator?: boolean; signal?: AbortSignal }) => {
          // The peer chose these addresses: only TCP ones naming one peer (the handshake then
          // checks that peer's key), and a few of them.
          const all = Array.isArray(addrs) ? addrs : [addrs];
          const peer = all[0]?.getComponents().findLast((c) => c.name === "p2p")?.value;
          const list = peer ? all.filter((a) => isTcpAddr(a) && a.getComponents().findLast((c) => c.name === "p2p")?.value === peer).slice(0, MAX_PUNCH_ADDRS) : [];
          if (peer) this.dialled.add(peer);
          const errors: unknown[] = [];
          for (const addr of list) {
            options.signal?.throwIfAborted();
            try {
              const conn: Connection = await components.transportManager.dialTransportForMultiaddr(addr).dial(addr, { ...options, upgrader });
              if (peer) this.punched.set(peer, conn);
              return conn;
            } catch (err) {
              log("hole punching dial to %s failed: %s", addr.toString(), describe(err));
              errors.push(err);
            }
          }
          throw new AggregateError(errors, "every hole punching dial failed");
        };
      },
    });
  }
}

/**
 * The upgrader, but a dial asked to respond (`initiator: false`) also has its raw connection marked
 * inbound before the upgrade: libp2p's upgrader takes the responding role in noise and
 * multistream-select then, but the muxer (yamux) reads its role from the connection's direction
 * and would be a client on both sides ("Both endpoints are clients").
 */
// biome-ignore lint/suspicious/noExplicitAny: libp2p's upgrader is internal.
function respondingUpgrader(upgrader: any): any {
  return new Proxy(upgrader, {
    get(target, key) {
      if (key !== "upgradeOutbound") return Reflect.get(target, key, target);
      return (maConn: { direction: string }, opts: { initiator?: boolean }) => {
        if (opts?.initiator === false) maConn.direction = "inbound";
        return target.upgradeOutbound(maConn, opts);
      };
    },
  });
}

function isRelayed(conn: Connection): boolean {
  return isRelayedAddr(conn.remoteAddr);
}

function isRelayedAddr(addr: Multiaddr): boolean {
  return addr.getComponents().some((c) => c.name === "p2p-circuit");
}

/** Whether `addr` is plain TCP over IP (IP, TCP port, perhaps the peer id): not relayed, not QUIC. */
export function isTcpAddr(addr: Multiaddr): boolean {
  const names = addr.getComponents().map((c) => c.name);
  if (names.at(-1) === "p2p") names.pop();
  return names.length === 2 && (names[0] === "ip4" || names[0] === "ip6") && names[1] === "tcp";
}

/** Whether a multiaddr's IP is public (not private, loopback, link-local or shared). */
export function isPublicAddr(addr: Multiaddr): boolean {
  return !isPrivateAddr(addr.toString());
}

/** Whether a multiaddr's IP is private, loopback or link-local (not reachable from the internet). */
export function isPrivateAddr(addr: string): boolean {
  const m = /^\/ip4\/(\d+)\.(\d+)\./.exec(addr);
  if (!m) return /^\/ip6\/(::1|f[cd]|fe80)/i.test(addr) || !/^\/ip[46]\//.test(addr);
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b < 128);
}
