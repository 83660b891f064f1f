/**
 * Leaving a relay once a peer is reachable directly, however the direct connection came about:
 * hole punching (DCUtR closes the relayed connection itself), the peer dialling us, or our dial
 * of an address learned since. libp2p then holds both connections and opens new streams on the
 * direct one, but our pile-sync client lives on its stream over the relayed one, and fetches
 * running there would go on paying the relay's limits. So, when a direct connection opens beside
 * a relayed one: our client leaves the relay (its requests are made again on a client over the
 * direct connection, see client-cache.ts and head-fetch.ts), and the relayed connection is closed
 * once no pile-sync stream is open on it, ours or the peer's (a peer that moves does the same on
 * its side; one that keeps its client there keeps the connection until the relay's limits end it).
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import type { Host } from "../host.ts";
import { connectionPath, hasDirect, openConnections } from "../relay.ts";
import { PROTOCOL_V4, PROTOCOL_V5 } from "../wire.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("node:direct");

const SYNC_PROTOCOLS = new Set([PROTOCOL_V4, PROTOCOL_V5]);

/** A relayed connection left behind is closed gracefully within this long, else aborted. */
const CLOSE_MS = 5000;

export class DirectPath {
  /** Relayed connections waiting for their last pile-sync stream to close. */
  private readonly waiting = new WeakSet<Connection>();

  constructor(
    private readonly host: Host,
    /** Moves our client to `peer` off its relayed connection (ClientCache.leaveRelay). */
    private readonly leaveRelay: (peer: PeerId) => void,
  ) {}

  start(): void {
    this.host.addEventListener("connection:open", this.onOpen);
  }

  stop(): void {
    this.host.removeEventListener("connection:open", this.onOpen);
  }

  private readonly onOpen = (evt: CustomEvent<Connection>) => {
    const conn = evt.detail;
    if (conn.status !== "open" || connectionPath(conn).path !== "direct") return;
    const relayed = openConnections(this.host, conn.remotePeer, "relayed");
    if (relayed.length === 0) return;
    log("a direct connection to %s opened (%s) beside %d relayed", conn.remotePeer.toString(), conn.remoteAddr.toString(), relayed.length);
    this.leaveRelay(conn.remotePeer);
    for (const r of relayed) this.closeWhenUnused(r);
  };

  /** Closes a relayed connection once no pile-sync stream is open on it, while a direct one to its peer stays open. */
  private closeWhenUnused(conn: Connection): void {
    if (conn.status !== "open" || !hasDirect(this.host, conn.remotePeer)) return;
    const inUse = conn.streams.filter((s: Stream) => s.status === "open" && SYNC_PROTOCOLS.has(s.protocol));
    if (inUse.length > 0) {
      if (this.waiting.has(conn)) return;
      this.waiting.add(conn);
      const recheck = () => {
        if (!inUse.every((s) => s.status !== "open")) return;
        this.waiting.delete(conn);
        this.closeWhenUnused(conn);
      };
      for (const s of inUse) s.addEventListener("close", recheck, { once: true });
      return;
    }
    log("closing the relayed connection to %s: nothing uses it", conn.remotePeer.toString());
    conn.close({ signal: AbortSignal.timeout(CLOSE_MS) }).catch((err: unknown) => {
      log("closing the relayed connection to %s gracefully failed, aborting it: %s", conn.remotePeer.toString(), describe(err));
      conn.abort(err instanceof Error ? err : new Error(String(err)));
    });
  }
}
