/**
 * Whom `--peers` names: a full multiaddr, a bare PeerId (12D3KooW…) or a teammate's public key as
 * `team` commands print it (64 hex characters). A peer given without an address is found through
 * peer routing (the DHT our peers and team relays serve), as are peers whose remembered addresses
 * no longer answer (a laptop that moved networks).
 */
import type { Connection, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { fromHex } from "../core/bytes.ts";
import { AddressError, type Host, isRelayedAddr, parseAddress } from "./host.ts";
import { peerIdFromKey, peerIdFromString } from "./peer-key.ts";

/** A peer to dial: its addresses (none when given by key alone) and its id when known. */
export interface DialTarget {
  /** What the user gave, for messages. */
  text: string;
  peerId?: PeerId;
  addrs: Multiaddr[];
  /**
   * Remembered (address-book.ts), not given: its addresses may be stale, so peer routing is asked
   * when they fail, and only its first failed dial is reported.
   */
  remembered?: boolean;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** Parses a multiaddr, a PeerId or a 64-hex public key; one-line AddressError otherwise. */
export function parseDialTarget(value: string): DialTarget {
  const text = String(value).trim(); // cac turns an all-digit argument into a number
  if (text.startsWith("/")) {
    const { addr, peerId } = parseAddress(text);
    return { text, addrs: [addr], ...(peerId ? { peerId } : {}) };
  }
  if (HEX_KEY.test(text)) return { text, peerId: peerIdFromKey(fromHex(text)), addrs: [] };
  let peerId: PeerId;
  try {
    peerId = peerIdFromString(text);
  } catch {
    throw new AddressError(`"${text}" is neither a multiaddr (/ip4/…/p2p/…), a PeerId (12D3KooW…) nor a public key (64 hex characters)`);
  }
  if (peerId.type !== "Ed25519") throw new AddressError(`"${text}" is not an Ed25519 PeerId (see \`tribles pile net identity\`)`);
  return { text, peerId, addrs: [] };
}

/** With `--direct-only`, a given relayed address is refused up front (the gater would refuse its dials). */
export function checkDirect(target: DialTarget): void {
  if (target.addrs.some(isRelayedAddr)) throw new AddressError(`${target.text} is a relayed address (/p2p-circuit), and direct-only refuses relayed connections`);
}

/** How long a peer-routing lookup may take before a dial gives up on it. */
export const FIND_PEER_MS = 10_000;

/**
 * Dials a target: its given addresses, else what the peer store knows of its id. When that fails
 * (or nothing is known) and the id is known, asks peer routing for current addresses and dials
 * those; given addresses are looked past only with `lookup` (remembered ones may be stale, a
 * user's are meant). The error thrown is the last dial's, naming the lookup when it found nothing.
 */
export async function dialTarget(host: Host, target: DialTarget, opts: { signal?: AbortSignal; lookup?: boolean } = {}): Promise<Connection> {
  const { peerId } = target;
  const { signal } = opts;
  if (!peerId || (target.addrs.length > 0 && !opts.lookup)) return host.dial(target.addrs, { signal });
  const known = target.addrs.length > 0 || (await knownAddrs(host, peerId)).length > 0;
  let first: unknown;
  if (known) {
    try {
      return await host.dial(target.addrs.length ? target.addrs : peerId, { signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      first = err;
    }
  }
  const found = await findPeer(host, peerId, signal);
  if (found.length === 0) {
    const why = first instanceof Error ? `${first.message}; ` : "";
    throw new Error(`${why}peer routing found no addresses for ${peerId} (is it online, and connected to a peer or relay we know?)`);
  }
  return host.dial(found, { signal });
}

/** Addresses the peer store holds for a peer (none when unknown). */
async function knownAddrs(host: Host, peerId: PeerId): Promise<Multiaddr[]> {
  try {
    return (await host.peerStore.get(peerId)).addresses.map((a) => a.multiaddr);
  } catch {
    return [];
  }
}

/** Current addresses of a peer through peer routing (the DHT), or none within FIND_PEER_MS. */
export async function findPeer(host: Host, peerId: PeerId, signal?: AbortSignal): Promise<Multiaddr[]> {
  const timeout = AbortSignal.timeout(FIND_PEER_MS);
  try {
    const info = await host.peerRouting.findPeer(peerId, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    return info.multiaddrs;
  } catch {
    return [];
  }
}
