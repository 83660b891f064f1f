/**
 * Looking for more of the team when the peers we know cannot tell who we are. A member whose pile
 * lacks its own capability chain (it was written to the issuer's pile) is refused by every peer
 * that lacks it too; only a peer holding the chain (the issuer, or one that fetched it) accepts
 * it and hands it over (own-chain.ts). libp2p's DHT asks for the peers near our id a second after
 * start and then every five minutes: when our first peer was not yet in its routing table by then
 * (a slow dial, a busy machine), the member learned of nobody else for minutes (seen: B, given
 * only C, never met A). So a refusal for our missing chain asks the DHT again, and again with
 * backoff while the chain is still missing; the DHT connects to the peers it asks, and the node
 * authenticates to every peer that connects (sync.ts), which completes the chain.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Host } from "../host.ts";
import { logged, netLogger } from "../log.ts";
import type { NodeLife } from "./life.ts";

const log = netLogger("team-search");

/** How long one search may take: the DHT's queries end on their own, this bounds a stuck one. */
const SEARCH_TIMEOUT_MS = 10_000;
/** Delays between searches while the chain is still missing; then we wait for the next refusal. */
export const SEARCH_RETRY_MS = [1000, 2000, 4000, 8000, 16_000];

interface ClosestPeers {
  getClosestPeers(key: Uint8Array, options: { signal: AbortSignal }): AsyncIterable<unknown>;
}

/** At most one search (with its retries) at a time. */
export class TeamSearch {
  private running = false;
  /** Searches begun (tests wait on it). */
  searches = 0;

  constructor(
    private readonly host: Host,
    private readonly life: NodeLife,
    /** Whether we still lack our chain (the searches stop once we hold it). */
    private readonly chainMissing: () => boolean,
  ) {}

  request(): void {
    const dht = (this.host.services as Record<string, unknown>).dht as ClosestPeers | undefined;
    if (!dht || this.running || this.life.stopped) return;
    this.running = true;
    this.life.background("searching the DHT for team peers", () => this.searchUntilFound(dht).finally(() => (this.running = false)));
  }

  private async searchUntilFound(dht: ClosestPeers): Promise<void> {
    for (let attempt = 0; attempt <= SEARCH_RETRY_MS.length; attempt++) {
      if (this.life.stopped || !this.chainMissing()) return;
      if (attempt > 0) await this.wait(SEARCH_RETRY_MS[attempt - 1]!);
      if (this.life.stopped || !this.chainMissing()) return;
      this.searches++;
      log("asking the DHT for peers near us (search %d; a peer could not verify our capability)", this.searches);
      const signal = AbortSignal.any([this.life.signal, AbortSignal.timeout(SEARCH_TIMEOUT_MS)]);
      await (async () => {
        for await (const _ of dht.getClosestPeers(this.host.peerId.toMultihash().bytes, { signal })) {
          // The DHT dials the peers it asks: their connections are what we are after.
        }
      })().catch(logged(log, "a DHT search for team peers"));
    }
  }

  /** Waits `ms`, or less when the node stops (the abort leaves no listener behind). */
  private wait(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.life.signal }).catch(() => undefined);
  }
}
