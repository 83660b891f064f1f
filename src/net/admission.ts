/**
 * Keeps strangers from filling the node's connection table. An inbound connection is a stranger
 * until a pile-sync AUTH succeeds on it in either direction (its peer authenticated to us, or we to
 * it: the sync node authenticates to every peer that connects). A stranger is closed when it has
 * not become a member within `authDeadlineMs`, and strangers are capped in total and per remote
 * IP: when a new one would pass a cap, the oldest stranger (of that IP, for the per-IP cap) is
 * closed. Members are never counted, so the caps leave libp2p's connection limit to them: 300
 * connections that never authenticate no longer keep an honest peer out.
 */
import type { Connection, PeerId } from "@libp2p/interface";
import type { Host } from "./host.ts";

export interface AdmissionLimits {
  /** How long an inbound connection may stay without a successful AUTH. */
  authDeadlineMs: number;
  /** Inbound connections without a successful AUTH, all peers together. */
  maxStrangers: number;
  /** Inbound connections without a successful AUTH from one IP address. */
  maxStrangersPerIp: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = { authDeadlineMs: 5000, maxStrangers: 64, maxStrangersPerIp: 16 };

interface Stranger {
  connection: Connection;
  ip: string;
  timer: ReturnType<typeof setTimeout>;
}

/** The IP part of a connection's remote address ("" when it has none, e.g. a relayed one). */
export function remoteIp(connection: Connection): string {
  const part = connection.remoteAddr.getComponents().find((c) => c.name === "ip4" || c.name === "ip6");
  return part?.value ?? "";
}

export class Admission {
  /** Inbound connections without a successful AUTH, oldest first (Map keeps insertion order). */
  private readonly strangers = new Map<string, Stranger>();
  /** Peers with a successful AUTH on some open connection: their new connections are members at once. */
  private readonly memberPeers = new Set<string>();
  private readonly onOpen = (evt: CustomEvent<Connection>) => this.arrived(evt.detail);
  private readonly onClose = (evt: CustomEvent<Connection>) => this.left(evt.detail);

  constructor(
    private readonly host: Host,
    private readonly limits: AdmissionLimits = DEFAULT_ADMISSION,
    private readonly onClosed?: (connection: Connection, reason: string) => void,
  ) {}

  start(): void {
    this.host.addEventListener("connection:open", this.onOpen);
    this.host.addEventListener("connection:close", this.onClose);
    for (const connection of this.host.getConnections()) this.arrived(connection);
  }

  stop(): void {
    this.host.removeEventListener("connection:open", this.onOpen);
    this.host.removeEventListener("connection:close", this.onClose);
    for (const s of this.strangers.values()) clearTimeout(s.timer);
    this.strangers.clear();
  }

  /** How many inbound connections are waiting for AUTH. */
  get strangerCount(): number {
    return this.strangers.size;
  }

  /** A pile-sync AUTH succeeded on `connection` (either direction): it, and its peer, are members. */
  admit(connection: Connection): void {
    this.admitPeer(connection.remotePeer);
  }

  /** AUTH succeeded with `peer` (the transport authenticated its key): all its connections are members. */
  admitPeer(peer: PeerId): void {
    const id = peer.toString();
    this.memberPeers.add(id);
    for (const [connId, s] of this.strangers) {
      if (s.connection.remotePeer.toString() !== id) continue;
      clearTimeout(s.timer);
      this.strangers.delete(connId);
    }
  }

  private arrived(connection: Connection): void {
    if (connection.direction !== "inbound" || connection.status !== "open") return;
    if (this.strangers.has(connection.id) || this.memberPeers.has(connection.remotePeer.toString())) return;
    const ip = remoteIp(connection);
    const timer = setTimeout(() => this.evict(connection.id, `no pile-sync AUTH within ${this.limits.authDeadlineMs / 1000} s`), this.limits.authDeadlineMs);
    timer.unref?.();
    this.strangers.set(connection.id, { connection, ip, timer });
    let fromIp = 0;
    for (const s of this.strangers.values()) if (s.ip === ip) fromIp++;
    if (fromIp > this.limits.maxStrangersPerIp) {
      const oldest = [...this.strangers].find(([, s]) => s.ip === ip)![0];
      this.evict(oldest, `more than ${this.limits.maxStrangersPerIp} unauthenticated connections from ${ip || "one address"}`);
    }
    if (this.strangers.size > this.limits.maxStrangers) {
      const oldest = this.strangers.keys().next().value!;
      this.evict(oldest, `more than ${this.limits.maxStrangers} unauthenticated connections`);
    }
  }

  private left(connection: Connection): void {
    const s = this.strangers.get(connection.id);
    if (s) {
      clearTimeout(s.timer);
      this.strangers.delete(connection.id);
    }
    const peer = connection.remotePeer;
    if (this.memberPeers.has(peer.toString()) && this.host.getConnections(peer).every((c) => c.id === connection.id || c.status !== "open")) {
      this.memberPeers.delete(peer.toString());
    }
  }

  private evict(id: string, reason: string): void {
    const s = this.strangers.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.strangers.delete(id);
    this.onClosed?.(s.connection, reason);
    s.connection.abort(new Error(`closed: ${reason}`));
  }
}
