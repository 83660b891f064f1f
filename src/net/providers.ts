/**
 * Who can serve a blob: provider records in the Kademlia DHT, keyed by the blob's hash, plus the
 * peer that told us about it (a gossiped head's publisher). A fetch asks all of them in parallel.
 *
 * The DHT keys provider records by a multihash. Its handlers decode the received key as a CIDv0,
 * which only accepts the sha2-256 code (0x12) with 32 bytes, so our key is the blob's 32 BLAKE3
 * bytes under that code: an opaque 32-byte key to the DHT (it never re-hashes content), and
 * derived from the blob hash alone. (With the BLAKE3 code 0x1e every record is refused.)
 */
import type { PeerId } from "@libp2p/interface";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import type { Hash } from "../core/store.ts";
import type { Host } from "./host.ts";

const RAW_CODEC = 0x55;
/** The multihash code the DHT accepts; the digest under it is our BLAKE3 hash (see above). */
const KEY_MULTIHASH = 0x12;

/** The DHT key of a blob. */
export function blobCid(hash: Hash): CID {
  return CID.createV1(RAW_CODEC, createDigest(KEY_MULTIHASH, hash));
}

/** Announces in the DHT that this node serves `hash`. Resolves once the record is placed. */
export async function announceProvider(host: Host, hash: Hash, signal?: AbortSignal): Promise<void> {
  await host.contentRouting.provide(blobCid(hash), signal ? { signal } : {});
}

export interface ProviderQuery {
  /** Stop after this many providers (default 8). */
  limit?: number;
  /** Stop looking after this long (default 5 s); whatever was found by then is returned. */
  timeoutMs?: number;
}

/** Providers of `hash` found in the DHT (never this node); their addresses go to the peer store. */
export async function findProviders(host: Host, hash: Hash, query: ProviderQuery = {}): Promise<PeerId[]> {
  const limit = query.limit ?? 8;
  const found: PeerId[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), query.timeoutMs ?? 5000);
  try {
    for await (const provider of host.contentRouting.findProviders(blobCid(hash), { signal: controller.signal })) {
      if (provider.id.equals(host.peerId) || found.some((p) => p.equals(provider.id))) continue;
      if (provider.multiaddrs.length) await host.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs });
      found.push(provider.id);
      if (found.length >= limit) break;
    }
  } catch (err) {
    // A lookup cut short by the timeout keeps what it found; other failures are real.
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return found;
}

/**
 * The peers to fetch `hash` from: DHT providers first, then `publisher` (the peer that announced
 * the head), which is always included even when the DHT knows nothing.
 */
export async function providersFor(host: Host, hash: Hash, publisher?: PeerId, query: ProviderQuery = {}): Promise<PeerId[]> {
  const fromDht = host.services.dht ? await findProviders(host, hash, query).catch(() => []) : [];
  if (publisher && !publisher.equals(host.peerId) && !fromDht.some((p) => p.equals(publisher))) fromDht.push(publisher);
  return fromDht;
}
