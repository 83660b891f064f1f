/**
 * One libp2p node per process. Its identity is the user's Ed25519 key, so the PeerId is derived from
 * the same key that signs commits. Transports: QUIC (when its native module loads) and TCP with
 * noise + yamux; services: identify, ping, gossipsub (branch heads), a Kademlia DHT under our own
 * protocol prefix (blob providers) and, only when asked, mDNS. No public bootstrap list: the node
 * talks only to peers it is given or discovers.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { YamuxStream } from "@chainsafe/libp2p-yamux/stream";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Connection, Metrics, PeerId } from "@libp2p/interface";
import { kadDHT } from "@libp2p/kad-dht";
import { mdns } from "@libp2p/mdns";
import { ping } from "@libp2p/ping";
import { tcpTransport } from "./tcp-transport.ts";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p, type Libp2p, type Libp2pOptions } from "libp2p";
import { bytesEqual } from "../core/bytes.ts";
import { peerIdFromString } from "./peer-key.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { MAX_PENDING_HANDSHAKES_PER_IP, PendingHandshakes } from "./handshake-gate.ts";
import { noiseCrypto } from "./noise-crypto.ts";
import { loadQuic, type QuicSettings } from "./quic.ts";
import { type ReachOptions, reachConfig } from "./relay.ts";
import { PAUSES_SENDER, StreamReader } from "./stream-io.ts";
import { tcpFromOnePort } from "./tcp-dial-port.ts";

// A paused yamux stream sends no window updates, so its sender stops within one window.
(YamuxStream.prototype as unknown as Record<symbol, boolean>)[PAUSES_SENDER] = true;

/**
 * Per-stream yamux windows. While a reader has paused a stream (stream-io.ts, `maxUnread`) the
 * sender may still fill the window it was granted, which libp2p buffers, aborting the stream past
 * `maxReadBufferLength`: that must hold a full window, or pausing would abort honest streams. The
 * largest window (libp2p's default is 16 MiB) is what a paused stream can buffer per stream.
 */
export const YAMUX_STREAM = {
  maxStreamWindowSize: 4 << 20,
  maxReadBufferLength: (4 << 20) + (64 << 10),
};

export const DHT_PROTOCOL = "/tribles/kad/1.0.0";
export const DEFAULT_LISTEN = ["/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"];
/**
 * The fixed port `pile net sync` listens on by default, for QUIC (UDP) and TCP alike, so teammates
 * and firewall rules can name it; taken, a random port is used instead (`listenFallback`).
 */
export const SYNC_PORT = 4717;
/** What `pile net sync` listens on without --listen: every IPv4 interface, SYNC_PORT. */
export const SYNC_LISTEN = [`/ip4/0.0.0.0/udp/${SYNC_PORT}/quic-v1`, `/ip4/0.0.0.0/tcp/${SYNC_PORT}`];

export interface HostOptions {
  key: SigningKey;
  /** Multiaddrs to listen on (default: QUIC and TCP on 127.0.0.1, random ports). */
  listen?: string[];
  /**
   * When a listen address's port is taken, listen on a random port of that address instead (for
   * the fixed default ports of `SYNC_LISTEN`, which another node on the machine may hold).
   */
  listenFallback?: boolean;
  /** Refuse relayed connections (addresses through /p2p-circuit), dialled or accepted. */
  directOnly?: boolean;
  /** libp2p's metrics component (status.ts's ByteCounter counts bytes per connection). */
  metrics?: (components: never) => Metrics;
  /** Discover peers on the LAN with mDNS (multicasts on real interfaces). */
  mdns?: boolean;
  /** Start the DHT service (default true). */
  dht?: boolean;
  /**
   * QUIC transport settings. A QUIC dial to a port nobody listens on fails only when its idle
   * timeout passes (UDP gets no refusal), so a one-shot command shortens it; see PULL_QUIC.
   */
  quic?: QuicSettings;
  /** Handshakes one IP address may have pending at once (default MAX_PENDING_HANDSHAKES_PER_IP). */
  maxPendingHandshakesPerIp?: number;
  /**
   * Relays and hole punching (relay.ts): with this, the node can dial relayed addresses, upgrades
   * relayed connections by DCUtR, answers AutoNAT, and serves as a relay if `relayServer` is set.
   */
  reach?: ReachOptions;
  /** Called with warnings: QUIC could not load (the node runs on TCP only), a discovered peer could not be dialed. */
  onWarning?: (message: string) => void;
}

// biome-ignore lint/suspicious/noExplicitAny: libp2p's service map type is generic over the services we pass.
export type Host = Libp2p<any>;

/**
 * QUIC settings for a short-lived command: a dial to a dead port fails after about 3 s instead of
 * 10 s (the QUIC stack waits at least three probe timeouts, ~3 s, however short the idle timeout);
 * keep-alives every second keep a live but quiet connection from reaching that timeout.
 */
export const PULL_QUIC: QuicSettings = { maxIdleTimeout: 3000, keepAliveInterval: 1000 };

/**
 * How long an older connection to a peer that just connected again may take to answer a ping
 * before it is taken for dead and closed. A live peer answers within this on any usable link; a
 * wrong guess costs a redial.
 */
export const STALE_PROBE_MS = 2000;

const PING_PROTOCOL = "/ipfs/ping/1.0.0";

/**
 * libp2p's connection limits. Connections that never authenticate are closed and capped by the
 * pile-sync server (admission.ts: 64 in all, well below maxConnections, so members find room);
 * these bound what comes before that, the handshakes.
 */
export const CONNECTION_LIMITS = {
  /** Open connections, members and strangers together. */
  maxConnections: 300,
  /**
   * Connections in their handshake at once (default 10): a few stalled handshakes kept every
   * honest peer out until they timed out.
   */
  maxIncomingPendingConnections: 64,
  /** A handshake not done in this long is dropped (default 10 s); honest ones take milliseconds. */
  inboundUpgradeTimeout: 5000,
  /**
   * New inbound connections per second from one address (default 5): peers on one machine or
   * behind one NAT share an address, so allow more before treating it as abuse.
   */
  inboundConnectionThreshold: 50,
};

export { MAX_PENDING_HANDSHAKES_PER_IP };

/** A listen address could not be used (in use, not local, no transport for it); one line. */
export class ListenError extends Error {
  constructor(
    message: string,
    /** The addresses whose port was taken by another process. */
    readonly inUse: string[] = [],
  ) {
    super(message);
    this.name = "ListenError";
  }
}

/** An address given by the user is not a usable multiaddr; one line. */
export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AddressError";
  }
}

/** Parses a user-given multiaddr and the peer id in its /p2p/ part, if any. */
export function parseAddress(text: string): { addr: Multiaddr; peerId?: PeerId } {
  let addr: Multiaddr;
  try {
    addr = multiaddr(text);
  } catch (err) {
    throw new AddressError(`invalid multiaddr "${text}": ${firstLine(err)}`);
  }
  const peerIdText = addr.getComponents().find((c) => c.name === "p2p")?.value;
  if (peerIdText === undefined) return { addr };
  try {
    return { addr, peerId: peerIdFromString(peerIdText) };
  } catch {
    throw new AddressError(`invalid peer id "${peerIdText}" in ${text} (expected a PeerId such as 12D3KooW…, see \`tribles pile net identity\`)`);
  }
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();

/**
 * libp2p reports failed listen addresses as one long message of advice and stack traces per
 * address; keep "cannot listen on ADDR: reason" for each (e.g. "address already in use").
 */
function listenError(err: unknown): ListenError {
  const text = err instanceof Error ? err.message : String(err);
  const inUse: string[] = [];
  const failures = [...text.matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.*)$/gm)].map(([, addr, reason]) => {
    // TCP says EADDRINUSE; QUIC's native stack "Address already in use (os error 98)".
    const taken = /EADDRINUSE|address already in use/i.test(reason!);
    if (taken) inUse.push(addr!);
    const known = taken ? "address already in use" : /EADDRNOTAVAIL/.test(reason!) ? "address not available on this machine" : /EACCES/.test(reason!) ? "permission denied" : reason!.trim();
    return `cannot listen on ${addr}: ${known}`;
  });
  return new ListenError(failures.length ? failures.join("; ") : `cannot listen: ${firstLine(err)}`, inUse);
}

/** Creates and starts the node; with `listenFallback`, a taken port becomes a random one. */
export async function createHost(opts: HostOptions): Promise<Host> {
  const listen = opts.listen ?? DEFAULT_LISTEN;
  try {
    return await startHost(opts, listen);
  } catch (err) {
    if (!(opts.listenFallback && err instanceof ListenError && err.inUse.length > 0)) throw err;
    opts.onWarning?.(`${err.message}; listening on a random port there instead`);
    return startHost(opts, listen.map((a) => (err.inUse.includes(a) ? anyPort(a) : a)));
  }
}

/** The same address with port 0 (the system picks a free one). */
function anyPort(addr: string): string {
  return addr.replace(/\/(tcp|udp)\/\d+/, "/$1/0");
}

/** Whether an address goes through a relay (a circuit relay v2 address). */
export function isRelayedAddr(addr: Multiaddr): boolean {
  return addr.getComponents().some((c) => c.name === "p2p-circuit");
}

/** `--direct-only`: the connection gater's part that refuses relayed dials and relayed inbound connections. */
function directOnlyGater(directOnly: boolean | undefined) {
  if (!directOnly) return {};
  return {
    denyDialMultiaddr: (addr: Multiaddr) => isRelayedAddr(addr),
    denyInboundRelayedConnection: () => true,
  };
}

async function startHost(opts: HostOptions, given: string[]): Promise<Host> {
  const privateKey = await generateKeyPairFromSeed("Ed25519", opts.key.seed());
  let listen = given;
  // With reach (relays, hole punching), TCP dials leave from one port, whose NAT mapping peers learn.
  const transports: NonNullable<Libp2pOptions["transports"]> = [opts.reach ? tcpFromOnePort() : tcpTransport()];
  const quic = await loadQuic();
  if (quic.ok) transports.unshift(quic.quic(opts.quic));
  else {
    opts.onWarning?.(quic.reason);
    listen = listen.filter((a) => !a.includes("/quic"));
  }
  // biome-ignore lint/suspicious/noExplicitAny: see Host.
  const services: Record<string, any> = {
    identify: identify(),
    ping: ping(),
    // Heads travel over relayed (limited) connections too: they are small, and a peer behind a NAT
    // may have no other path.
    pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, heartbeatInterval: 200, runOnLimitedConnection: true }),
  };
  if (opts.dht !== false) {
    services.dht = kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      // Keep loopback and LAN addresses: our peers are given or discovered, often on one machine.
      peerInfoMapper: (p) => p,
      // Otherwise every lookup waits for a first self-query scheduled a second after start; with
      // no peers yet a lookup simply finds nothing and callers fall back to the publisher.
      allowQueryWithZeroPeers: true,
    });
  }
  const reach = opts.reach ? reachConfig(opts.reach) : undefined;
  if (reach) {
    transports.push(reach.transport);
    Object.assign(services, reach.services);
  }
  const handshakes = new PendingHandshakes(opts.maxPendingHandshakesPerIp ?? MAX_PENDING_HANDSHAKES_PER_IP, CONNECTION_LIMITS.inboundUpgradeTimeout + 1000);
  let node: Host | undefined;
  const admit = async (peer: PeerId) => {
    if (node) await closeDeadConnections(node, peer);
    return false;
  };
  node = await createLibp2p({
    start: false,
    privateKey,
    addresses: { listen },
    transports,
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux({ streamOptions: YAMUX_STREAM })],
    peerDiscovery: opts.mdns ? [mdns()] : [],
    connectionManager: CONNECTION_LIMITS,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    connectionGater: {
      ...directOnlyGater(opts.directOnly),
      denyInboundConnection: (maConn) => handshakes.refuse(maConn),
      denyInboundEncryptedConnection: admit,
      denyInboundUpgradedConnection: (_peer, maConn) => {
        handshakes.done(maConn);
        return opts.directOnly === true && isRelayedAddr(maConn.remoteAddr);
      },
      ...reach?.gater,
    },
    services,
  });
  try {
    await node.start();
  } catch (err) {
    // Close the listeners that did start, or they keep the process alive.
    await Promise.resolve(node.stop()).catch(() => undefined);
    if ((err as Error)?.name === "UnsupportedListenAddressesError") throw listenError(err);
    throw err;
  }
  reach?.afterStart(node);
  // libp2p no longer dials what discovery finds; a discovered peer on the LAN is one we want.
  if (opts.mdns) {
    node.addEventListener("peer:discovery", (evt) => {
      const peer = evt.detail;
      if (peer.id.equals(node.peerId) || node.getConnections(peer.id).length > 0) return;
      node.dial(peer.multiaddrs.length ? peer.multiaddrs : peer.id).catch((err: unknown) => {
        opts.onWarning?.(`could not dial discovered peer ${peer.id}: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
  }
  return node;
}

/**
 * Closes the connections to `peer` that do not answer a ping within STALE_PROBE_MS; runs as a new
 * connection of that peer is admitted. A peer killed and restarted at once with the same key (same
 * PeerId) connects again while we still hold its old connection: over QUIC nothing says that one
 * died until its idle timeout. Admitted beside it, the new connection gets no peer:connect (so we
 * never authenticate to the new process) and the old one's end no peer:disconnect, while gossipsub,
 * one stream per peer, stays on the dead connection and then on none: the restarted peer heard
 * nothing from us until all its connections had closed. Closing the dead one first makes the new
 * one a fresh peer:connect. A second live process with the same key answers and keeps its own.
 *
 * The gate is the encrypted stage, before the new connection's muxer exists: streams the peer
 * opens meanwhile wait in QUIC (or the peer waits for muxer negotiation over TCP) instead of
 * arriving before libp2p listens for them and being lost.
 */
async function closeDeadConnections(node: Host, peer: PeerId): Promise<void> {
  const open = node.getConnections(peer).filter((c) => c.status === "open");
  // Two peers dialling each other at once each admit the other's dial here: a ping on our own dial
  // waits until the peer admits it, perhaps while it waits for this one. The dials the peer made
  // us are through its side already; ours only once older than its wait can last.
  const probed = open.filter((c) => c.direction === "inbound" || Date.now() - c.timeline.open > 2 * STALE_PROBE_MS);
  if (probed.length === 0) return;
  const alive = await Promise.all(probed.map((c) => answersPing(c, STALE_PROBE_MS)));
  const dead = probed.filter((c, i) => !alive[i] && c.status === "open");
  if (dead.length === 0) return;
  let onDisconnect: ((evt: CustomEvent<PeerId>) => void) | undefined;
  const gone = new Promise<void>((resolve) => {
    onDisconnect = (evt) => {
      if (evt.detail.equals(peer)) resolve();
    };
    node.addEventListener("peer:disconnect", onDisconnect);
  });
  for (const c of dead) c.abort(new Error("no answer to a ping after the peer connected again"));
  // Let gossipsub and the others forget the peer before its new connection is announced.
  if (!open.some((c) => c.status === "open")) await Promise.race([gone, new Promise((r) => setTimeout(r, 100))]);
  node.removeEventListener("peer:disconnect", onDisconnect);
}

/** Whether a ping on this very connection (not any to its peer) is answered within `ms`. */
export async function answersPing(connection: Connection, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("ping timed out")), ms);
  });
  expired.catch(() => undefined);
  // A relayed connection is limited (relay.ts): without runOnLimitedConnection the ping is never
  // sent there and a live relayed peer would be taken for dead.
  const opening = connection.newStream(PING_PROTOCOL, { signal: AbortSignal.timeout(ms), runOnLimitedConnection: true });
  try {
    const stream = await Promise.race([opening, expired]);
    const data = crypto.getRandomValues(new Uint8Array(32));
    stream.send(data);
    return bytesEqual(await Promise.race([new StreamReader(stream).readExactly(data.length), expired]), data);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    opening.then((stream) => stream.abort(new Error("ping done")), () => undefined);
  }
}

/** Dials every multiaddr; returns the failures (address and reason) instead of throwing. */
export async function dialAll(node: Host, addrs: string[]): Promise<{ addr: string; error: string }[]> {
  const failures: { addr: string; error: string }[] = [];
  await Promise.all(
    addrs.map(async (addr) => {
      try {
        await node.dial(multiaddr(addr));
      } catch (err) {
        failures.push({ addr, error: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
  return failures;
}
