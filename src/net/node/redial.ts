/** Keeps the given peers (`SyncNodeOptions.peers`) connected: each is redialled with backoff while it is not. */
import type { PeerId } from "@libp2p/interface";
import { type DialTarget, dialTarget, parseDialTarget } from "../dial-target.ts";
import type { Host } from "../host.ts";
import type { NodeLife } from "./life.ts";

/** A given peer that cannot be reached is dialled again after this long, doubling up to REDIAL_MAX_MS. */
export const REDIAL_MIN_MS = 1000;
export const REDIAL_MAX_MS = 30_000;

export class Redialer {
  constructor(
    private readonly host: Host,
    private readonly life: NodeLife,
    /** Whether a peer refused our capability for good: it is not dialled again. */
    private readonly refusedForGood: (peer: PeerId) => boolean,
  ) {}

  /**
   * Dials a given peer and keeps it connected: a failed or dropped connection is dialled again
   * after 1 s, doubling up to 30 s while dials fail (a connection made resets the wait). Resolves
   * after the first attempt; the rest runs in the background until the node stops.
   */
  async keepConnected(given: string | DialTarget): Promise<void> {
    const target = typeof given === "string" ? parseDialTarget(given) : given;
    const text = target.text;
    const life = this.life;
    let delay = REDIAL_MIN_MS;
    let failures = 0;
    const attempt = async (): Promise<PeerId | undefined> => {
      try {
        const connection = await dialTarget(this.host, target, { signal: life.signal, lookup: target.remembered === true });
        delay = REDIAL_MIN_MS;
        failures = 0;
        life.emit({ type: "connected", addr: text, peer: connection.remotePeer.toString() });
        return connection.remotePeer;
      } catch (err) {
        if (life.stopped) return undefined;
        // A remembered peer may be gone for good: its first failure is said, not every retry.
        if (target.remembered && failures++ > 0) return undefined;
        life.emit({ type: "dial-failed", addr: text, error: err instanceof Error ? err.message : String(err), retryInMs: delay });
        return undefined;
      }
    };
    const first = await attempt();
    life.background(`keeping ${text} connected`, async () => {
      let peer = first;
      while (!life.stopped) {
        if (peer) await this.untilDisconnected(peer);
        // A peer that refused our capability for good (revoked, expired, …) is not dialled again.
        if (peer && this.refusedForGood(peer)) return;
        await life.sleep(delay);
        if (!peer) delay = Math.min(delay * 2, REDIAL_MAX_MS);
        if (!life.stopped) peer = await attempt();
      }
    });
  }

  /** Resolves once no connection to `peer` is left, or at stop. */
  private untilDisconnected(peer: PeerId): Promise<void> {
    const signal = this.life.signal;
    return new Promise((resolve) => {
      const done = () => {
        this.host.removeEventListener("peer:disconnect", onDisconnect);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const onDisconnect = (evt: CustomEvent<PeerId>) => {
        if (evt.detail.equals(peer)) done();
      };
      this.host.addEventListener("peer:disconnect", onDisconnect);
      signal.addEventListener("abort", done);
      if (this.life.stopped || this.host.getConnections(peer).length === 0) done();
    });
  }
}
