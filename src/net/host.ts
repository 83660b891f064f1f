/**
 * One libp2p node per process. Its identity is the user's Ed25519 key, so the PeerId is derived from
 * the same key that signs commits. Transports: QUIC (when its native module loads) and TCP with
 * noise + yamux; services: identify, ping, gossipsub (branch heads), a Kademlia DHT under our own
 * protocol prefix (blob providers) and, only when asked, mDNS. No public bootstrap list: the node
 * talks only to peers it is given or discovers.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { PeerId } from "@libp2p/interface";
import { kadDHT } from "@libp2p/kad-dht";
import { mdns } from "@libp2p/mdns";
import { peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { createLibp2p, type Libp2p, type Libp2pOptions } from "libp2p";
import type { SigningKey } from "../core/ed25519.ts";
import { noiseCrypto } from "./noise-crypto.ts";
import { loadQuic } from "./quic.ts";

export const DHT_PROTOCOL = "/tribles/kad/1.0.0";
export const DEFAULT_LISTEN = ["/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"];

export interface HostOptions {
  key: SigningKey;
  /** Multiaddrs to listen on (default: QUIC and TCP on 127.0.0.1, random ports). */
  listen?: string[];
  /** Discover peers on the LAN with mDNS (multicasts on real interfaces). */
  mdns?: boolean;
  /** Start the DHT service (default true). */
  dht?: boolean;
  /** Called with warnings: QUIC could not load (the node runs on TCP only), a discovered peer could not be dialed. */
  onWarning?: (message: string) => void;
}

// biome-ignore lint/suspicious/noExplicitAny: libp2p's service map type is generic over the services we pass.
export type Host = Libp2p<any>;

/** Creates and starts the node. */
export async function createHost(opts: HostOptions): Promise<Host> {
  const privateKey = await generateKeyPairFromSeed("Ed25519", opts.key.seed());
  let listen = opts.listen ?? DEFAULT_LISTEN;
  const transports: NonNullable<Libp2pOptions["transports"]> = [tcp()];
  const quic = await loadQuic();
  if (quic.ok) transports.unshift(quic.quic());
  else {
    opts.onWarning?.(quic.reason);
    listen = listen.filter((a) => !a.includes("/quic"));
  }
  // biome-ignore lint/suspicious/noExplicitAny: see Host.
  const services: Record<string, any> = {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, heartbeatInterval: 200 }),
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
  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports,
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    peerDiscovery: opts.mdns ? [mdns()] : [],
    // libp2p refuses more than 5 inbound connections per second from one address by default; peers
    // on one machine or behind one NAT share an address, so allow more before treating it as abuse.
    connectionManager: { inboundConnectionThreshold: 50 },
    services,
  });
  await node.start();
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

/** The 32-byte Ed25519 public key of a peer (our peers always use Ed25519 identities). */
export function peerPublicKey(peer: PeerId): Uint8Array | null {
  return peer.type === "Ed25519" ? peer.publicKey.raw : null;
}

/** The PeerId of a 32-byte Ed25519 public key. */
export function peerIdFromKey(publicKey: Uint8Array): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey));
}

export { peerIdFromString };
