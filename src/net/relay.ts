/**
 * Reaching peers behind NATs: libp2p's circuit relay v2 (a team member that others can dial relays
 * for those that cannot be dialled), DCUtR (hole punching: a relayed connection is upgraded to a
 * direct one when both NATs allow it) and AutoNAT (dial-backs that confirm an address is
 * reachable). host.ts adds these services when asked; `Reach` keeps reservations on the team
 * relays, learns our TCP mapping from them and hands hole punching to hole-punch.ts, and says
 * which path each connection took.
 *
 * Cost: a relay serves only members (a reservation waits for the peer's AUTH to verify, see
 * `memberGate`), and each relayed connection is cut at RELAY_LIMITS' duration and bytes; the relay
 * is then dialled again (a new budget), while a direct connection, once there is one, is the one
 * every new stream takes (libp2p prefers an unlimited connection to a limited one). However it
 * came (hole punching, the peer dialling us, our dial of an address learned since), a fetch
 * running over the relay does not stay there: our client leaves the relayed connection, the fetch
 * is asked again at once on the direct one, keeping what it stored, and the relayed connection is
 * closed once no pile-sync stream uses it (node/direct-path.ts). test/net/direct-path.test.ts
 * shows it on loopback; test/net/nat.test.ts fetches a commit 24 times a relay's data limit.
 */
import { autoNATv2 } from "@libp2p/autonat-v2";
import { circuitRelayServer, circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { dcutr } from "@libp2p/dcutr";
import { identifyPush } from "@libp2p/identify";
import type { Connection, ConnectionGater, PeerId } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { TeamPolicy } from "../auth/policy.ts";
import { KeyedMap } from "../core/keyed-map.ts";
import { HolePuncher, type HolePunchEvent, isPrivateAddr, isTcpAddr } from "./hole-punch.ts";
import type { Host } from "./host.ts";
import { logged, netLogger } from "./log.ts";

const log = netLogger("reach");

/** What one relay grants: reservations, and each relayed connection's duration and bytes. */
export interface RelayLimits {
  /** Peers holding a reservation at once. */
  maxReservations: number;
  /** A reservation lasts this long (ms); clients renew it before it ends. */
  reservationTtlMs: number;
  /** A relayed connection is closed after this long (ms)… */
  durationMs: number;
  /** …or after this many bytes (both directions together). */
  dataBytes: number;
  /** Relayed connections the relay carries at once (hop streams). */
  maxRelayedConnections: number;
}

/**
 * Room for a team's laptops; the data limit covers a sync of a few hundred MiB before the relayed
 * connection is redialled (each redial gets a new budget): a relay is a fallback, not a pipe.
 */
export const RELAY_LIMITS: RelayLimits = {
  maxReservations: 64,
  reservationTtlMs: 60 * 60_000,
  durationMs: 30 * 60_000,
  dataBytes: 256 << 20,
  maxRelayedConnections: 128,
};

export interface RelayServerSettings {
  limits?: Partial<RelayLimits>;
  /** Whether `peer` may reserve a slot (e.g. `memberGate`); refused reservations are reported. */
  admit: (peer: PeerId) => Promise<boolean>;
  onRefused?: (peer: PeerId) => void;
}

export interface ReachOptions {
  /** Multiaddrs (with /p2p/RELAY-ID) of team relays to hold a reservation on. */
  relays?: string[];
  /** Serve as a relay for team members. */
  relayServer?: RelayServerSettings;
}

/** The transports, services and gater hooks host.ts adds for `reach`. */
export function reachConfig(reach: ReachOptions): {
  // biome-ignore lint/suspicious/noExplicitAny: libp2p's transport and service factories are generic.
  transport: any;
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  services: Record<string, any>;
  gater: Pick<ConnectionGater, "denyInboundRelayReservation">;
  afterStart: (host: Host) => void;
} {
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  const services: Record<string, any> = {
    // Dial-backs for peers that ask whether they are reachable (and asked of ours).
    // (v2: its server dials back on a new connection; v1 closed the peer's own connection after a dial-back.)
    autonat: autoNATv2({ startupDelay: 1000, refreshInterval: 60_000 }),
    dcutr: dcutr({ retries: 3 }),
    // Tells connected peers when our addresses (or NAT mapping, hole-punch.ts) change.
    identifyPush: identifyPush(),
  };
  const server = reach.relayServer;
  if (server) {
    const limits = { ...RELAY_LIMITS, ...server.limits };
    services.relay = circuitRelayServer({
      maxInboundHopStreams: limits.maxRelayedConnections,
      maxOutboundStopStreams: limits.maxRelayedConnections,
      reservations: {
        maxReservations: limits.maxReservations,
        reservationTtl: limits.reservationTtlMs,
        applyDefaultLimit: true,
        defaultDurationLimit: limits.durationMs,
        defaultDataLimit: BigInt(limits.dataBytes),
      },
    });
  }
  return {
    transport: circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
    // libp2p announces a public listen address only once AutoNAT confirms it, which takes several
    // peers that dial back; a relay is run on an address its operator says is reachable, so its
    // listen addresses are announced (and printed) from the start.
    afterStart: (host) => {
      if (!server) return;
      // biome-ignore lint/suspicious/noExplicitAny: the address manager is internal to libp2p.
      const components = (host as any).components;
      for (const addr of components.transportManager.getAddrs()) components.addressManager.confirmObservedAddr(addr, { type: "transport" });
    },
    services,
    gater: {
      denyInboundRelayReservation: async (peer) => {
        if (!server) return true; // not a relay: nobody reserves here
        const ok = await server.admit(peer).catch(() => false);
        if (!ok) server.onRefused?.(peer);
        return !ok;
      },
    },
  };
}

/** Refused AUTHs the relay remembers (for `memberGate`): as many as MAX_REFUSALS_REMEMBERED in the policy. */
const REFUSED_AUTHS_REMEMBERED = 4096;

/**
 * Admits a reservation once the peer's capability verified here: members authenticate to every
 * peer as they connect, usually while their reservation request is on its way, so it waits up to
 * `waitMs` for that AUTH before refusing. A peer whose AUTH was refused (while its request waits,
 * or in the `waitMs` before it came) is refused then: the capability it was waited for is not
 * coming, and a stranger's request is not held open.
 */
export function memberGate(policy: TeamPolicy, publicKeyOf: (peer: PeerId) => Uint8Array | null, waitMs = 10_000): (peer: PeerId) => Promise<boolean> {
  const waiters = new Set<() => void>();
  /** When each key's AUTH was last refused (performance.now()). */
  const refusedAt = new KeyedMap<number>(REFUSED_AUTHS_REMEMBERED);
  const wakeAll = () => {
    for (const wake of [...waiters]) wake();
  };
  policy.onCapabilityVerified(wakeAll);
  policy.onAuthRefused((key) => {
    refusedAt.set(key, performance.now());
    wakeAll();
  });
  return (peer) => {
    const key = publicKeyOf(peer);
    if (!key) return Promise.resolve(false);
    const isMember = () => !!policy.capabilityOf(key) && !policy.revoked.has(key);
    const refused = () => performance.now() - (refusedAt.get(key) ?? Number.NEGATIVE_INFINITY) < waitMs;
    if (isMember()) return Promise.resolve(true);
    if (refused()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => {
        if (isMember()) done(true);
        else if (refused()) done(false);
      };
      const timer = setTimeout(() => done(isMember()), waitMs);
      waiters.add(wake);
    });
  };
}

/** How a connection reaches its peer: "relayed" through the relay with PeerId `via`, or "direct". */
export function connectionPath(conn: Connection): { path: "direct" | "relayed"; via?: string } {
  const parts = conn.remoteAddr.getComponents();
  const circuit = parts.findIndex((c) => c.name === "p2p-circuit");
  if (circuit < 0) return { path: "direct" };
  const via = parts.slice(0, circuit).findLast((c) => c.name === "p2p")?.value;
  return { path: "relayed", ...(via ? { via } : {}) };
}

/** Open connections to `peer` that go straight to it ("direct") or through a relay ("relayed"). */
export function openConnections(host: Host, peer: PeerId, path: "direct" | "relayed"): Connection[] {
  return host.getConnections(peer).filter((c) => c.status === "open" && connectionPath(c).path === path);
}

/** Whether an open connection to `peer` goes straight to it (not through a relay). */
export function hasDirect(host: Host, peer: PeerId): boolean {
  return openConnections(host, peer, "direct").length > 0;
}

/**
 * A relayed connection to `peer` when relayed ones are all that is open, else undefined: then
 * libp2p's dial picks the direct one (after hole punching, new fetches leave the relay) or dials.
 */
export function onlyRelayed(host: Host, peer: PeerId): Connection | undefined {
  const open = host.getConnections(peer).filter((c) => c.status === "open");
  if (open.length === 0 || open.some((c) => connectionPath(c).path === "direct")) return undefined;
  return open[0];
}

export type ReachEvent =
  /** We hold (or lost) a reservation on a relay; `addrs` are our relayed addresses. */
  | { type: "reservation"; relay: string; ok: boolean; addrs: string[]; error?: string }
  /** A connection to a peer opened: direct or relayed (the relay's PeerId in `via`), and its transport. */
  | { type: "path"; peer: string; path: "direct" | "relayed"; via?: string; transport: string; addr: string }
  /**
   * Our addresses changed: public ones (a public listen address, or confirmed by AutoNAT), relayed
   * ones, and `mapped`: our NAT's mappings as a relay saw them, offered for hole punching only.
   */
  | { type: "reachability"; reachable: boolean; public: string[]; relayed: string[]; mapped: string[] }
  /** A reservation on our relay was refused (the peer's capability did not verify in time). */
  | { type: "reservation-refused"; peer: string }
  /**
   * Hole punching to a peer (both sides offered a NAT mapping) ended: with a direct connection
   * (`addr`), or not (a NAT on either side maps each destination to its own port, or drops the
   * attempt): the connection stays relayed.
   */
  | HolePunchEvent;

const RESERVE_RETRY_MIN_MS = 1000;
const RESERVE_TIMEOUT_MS = 15_000;

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
const RESERVE_RETRY_MAX_MS = 30_000;

/**
 * Keeps a reservation on each given relay (listening on RELAY/p2p-circuit, retried with backoff
 * while the relay is unreachable, and again when a reservation is lost) and reports the path of
 * every connection and changes of reachability.
 */
export class Reach {
  private stopped = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Each held reservation's watcher of transport:listening and connection:close, removed when it fires or at stop. */
  private readonly watchers = new Set<() => void>();
  private lastReach = "";
  private puncher: HolePuncher | undefined;

  private constructor(
    private readonly host: Host,
    private readonly relays: Multiaddr[],
    private readonly onEvent: (e: ReachEvent) => void,
  ) {}

  static start(host: Host, reach: ReachOptions, onEvent: (e: ReachEvent) => void): Reach {
    const r = new Reach(host, (reach.relays ?? []).map((a) => multiaddr(a)), onEvent);
    host.addEventListener("connection:open", r.onOpen);
    host.addEventListener("self:peer:update", r.onSelf);
    const relayIds = new Set(r.relays.map((a) => a.getComponents().findLast((c) => c.name === "p2p")?.value));
    r.puncher = HolePuncher.start(host, (peer) => relayIds.has(peer.toString()), onEvent, r.onSelf);
    // The node dialled its given peers before we were started: say those paths too.
    for (const conn of host.getConnections()) r.onOpen(new CustomEvent("connection:open", { detail: conn }));
    for (const relay of r.relays) r.reserve(relay, RESERVE_RETRY_MIN_MS);
    return r;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const check of this.watchers) this.unwatch(check);
    this.host.removeEventListener("connection:open", this.onOpen);
    this.host.removeEventListener("self:peer:update", this.onSelf);
    this.puncher?.stop();
  }

  private readonly onOpen = (evt: CustomEvent<Connection>) => {
    const conn = evt.detail;
    const { path, via } = connectionPath(conn);
    const transport = conn.remoteAddr.getComponents().some((c) => c.name === "quic-v1") ? "quic" : "tcp";
    this.onEvent({ type: "path", peer: conn.remotePeer.toString(), path, ...(via ? { via } : {}), transport, addr: conn.remoteAddr.toString() });
  };

  private readonly onSelf = () => {
    const addrs = this.host.getMultiaddrs().map(String);
    const relayed = addrs.filter((a) => a.includes("/p2p-circuit"));
    const direct = addrs.filter((a) => !a.includes("/p2p-circuit") && !isPrivateAddr(a));
    const mapped = this.puncher?.mapped ?? [];
    const key = `${direct.join(" ")}|${relayed.join(" ")}|${mapped.join(" ")}`;
    if (key === this.lastReach) return;
    this.lastReach = key;
    this.onEvent({ type: "reachability", reachable: direct.length > 0, public: direct, relayed, mapped });
  };

  /**
   * Opens a TCP connection to the relay, beside a reservation held over QUIC, so that the relay
   * tells us (identify) where our NAT maps our TCP dials: TCP is the transport that hole punches.
   */
  private learnTcpMapping(relayId: string): void {
    const relay = this.host.getConnections().find((c) => c.remotePeer.toString() === relayId)?.remotePeer;
    if (!relay || this.host.getConnections(relay).some((c) => isTcpAddr(c.remoteAddr))) return;
    void this.host.peerStore
      .get(relay)
      .then((info) => {
        const tcp = info.addresses.map((a) => a.multiaddr).filter((a) => isTcpAddr(a) && !isPrivateAddr(a.toString()));
        if (tcp.length === 0 || this.stopped) return;
        return this.host.dial(tcp, { force: true, signal: AbortSignal.timeout(RESERVE_TIMEOUT_MS) });
      })
      .catch(logged(log, `a TCP connection to relay ${relayId}`));
  }

  private unwatch(check: () => void): void {
    this.watchers.delete(check);
    this.host.removeEventListener("transport:listening", check);
    this.host.removeEventListener("connection:close", check);
  }

  /** Holds a reservation on `relay`: listens on its circuit address, and again once it is gone. */
  private reserve(relay: Multiaddr, delay: number): void {
    if (this.stopped) return;
    const relayId = relay.getComponents().findLast((c) => c.name === "p2p")?.value ?? relay.toString();
    const circuit = relay.encapsulate("/p2p-circuit");
    // biome-ignore lint/suspicious/noExplicitAny: libp2p keeps its transport manager internal; listening after start needs it.
    const transports = (this.host as any).components.transportManager;
    const retry = (next: number) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.reserve(relay, Math.min(next * 2, RESERVE_RETRY_MAX_MS));
      }, next);
      this.timers.add(t);
    };
    const held = () => this.host.getMultiaddrs().some((a) => a.toString().includes(`/p2p/${relayId}/p2p-circuit`));
    const watch = () => {
      // The reservation lives on the one connection it was made on. When that closes (the relay's
      // last connection, or one of two opened to it at once and closed as a duplicate while the
      // other stays), or the reservation expires unrefreshed, libp2p's circuit listener withdraws
      // our relayed addresses and dispatches transport:listening at once. Reserve again then.
      // (self:peer:update is debounced by a second and says nothing when a loss follows the gain.)
      const check = () => {
        if (this.stopped || held()) return;
        this.unwatch(check);
        const connected = this.host.getConnections().some((c) => c.remotePeer.toString() === relayId);
        const error = connected ? "the relay connection holding the reservation closed" : "connection to the relay closed";
        this.onEvent({ type: "reservation", relay: relayId, ok: false, addrs: [], error });
        retry(RESERVE_RETRY_MIN_MS);
      };
      this.watchers.add(check);
      this.host.addEventListener("transport:listening", check);
      this.host.addEventListener("connection:close", check);
    };
    (async () => {
      // A reservation request can stall (seen when the relay connection was opened by a relayed
      // dial first); give up on it after a while and ask again.
      if (!held()) await withTimeout(transports.listen([circuit]), RESERVE_TIMEOUT_MS, "the reservation request timed out");
      if (this.stopped) return;
      const addrs = this.host
        .getMultiaddrs()
        .map(String)
        .filter((a) => a.includes(`/p2p/${relayId}/p2p-circuit`));
      this.onEvent({ type: "reservation", relay: relayId, ok: true, addrs });
      this.learnTcpMapping(relayId);
      watch();
    })().catch((err: unknown) => {
      if (this.stopped) return;
      this.onEvent({ type: "reservation", relay: relayId, ok: false, addrs: [], error: (err instanceof Error ? err.message : String(err)).split("\n")[0]! });
      retry(delay);
    });
  }
}

