/**
 * Caps the handshakes one IP address may have pending at once. libp2p caps pending handshakes for
 * all peers together (CONNECTION_LIMITS.maxIncomingPendingConnections) and each may take up to
 * the upgrade timeout: one address that opens connections and stalls their handshakes could hold
 * every slot and keep all other peers out. Per address, at most `maxPerIp` are let through to the
 * handshake; further ones are refused at once until one finishes, fails or times out.
 */
import type { MultiaddrConnection } from "@libp2p/interface";

/**
 * Handshakes one IP address may have pending at once: half of libp2p's cap for all addresses
 * (64, host.ts): stalled handshakes from one address leave half the slots to the others, and an
 * honest peer sharing the address (a NAT, one machine) still finds room while strangers there
 * keep reconnecting (test/net/hostile.test.ts, connection exhaustion).
 */
export const MAX_PENDING_HANDSHAKES_PER_IP = 32;

/** The IP part of a multiaddr connection's remote address ("" when it has none). */
function ipOf(maConn: MultiaddrConnection): string {
  const part = maConn.remoteAddr.getComponents().find((c) => c.name === "ip4" || c.name === "ip6");
  return part?.value ?? "";
}

export class PendingHandshakes {
  /** Pending handshakes per IP address (only addresses with some pending: bounded by the global cap). */
  private readonly perIp = new Map<string, number>();
  /** The handshakes counted, and how to uncount each (once). */
  private readonly pending = new WeakMap<MultiaddrConnection, () => void>();

  constructor(
    private readonly maxPerIp: number,
    /** A handshake is uncounted after this long even if no end of it is seen (libp2p's upgrade timeout and a margin). */
    private readonly releaseAfterMs: number,
    private readonly onRefused?: (ip: string) => void,
  ) {}

  /** Pending handshakes from `ip`. */
  count(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  /** A new inbound connection: true (refuse it) when its address already has `maxPerIp` pending. */
  refuse(maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn);
    const n = this.count(ip);
    if (n >= this.maxPerIp) {
      this.onRefused?.(ip);
      return true;
    }
    this.perIp.set(ip, n + 1);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      clearTimeout(timer);
      maConn.removeEventListener("close", release);
      const left = this.count(ip) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    };
    const timer = setTimeout(release, this.releaseAfterMs);
    timer.unref?.();
    maConn.addEventListener("close", release);
    this.pending.set(maConn, release);
    return false;
  }

  /** The connection's handshake is done (upgraded): it no longer counts. */
  done(maConn: MultiaddrConnection): void {
    this.pending.get(maConn)?.();
    this.pending.delete(maConn);
  }
}
