/**
 * Fetching one remote head (the work of a sync node's FetchQueue): from the publisher or DHT
 * providers, closure first and verified, then proof of possession, then delivery.
 */
import type { PeerId } from "@libp2p/interface";
import { toHex } from "../../core/bytes.ts";
import { HashIndex } from "../../core/hash-index.ts";
import type { Hash, Store } from "../../core/store.ts";
import { Repository } from "../../repo/repository.ts";
import { ancestors } from "../../repo/history.ts";
import { findTrackingBranch } from "../../repo/tracking.ts";
import { AuthRejectedError, MovedToDirectError, type SyncClient } from "../client.ts";
import { BudgetExceededError, type FetchProgress, type FetchSummary, fetchClosure, MissingBlobError } from "../fetch.ts";
import type { Host } from "../host.ts";
import { peerIdFromKey } from "../peer-key.ts";
import type { RemoteHead } from "../peer.ts";
import { providersFor } from "../providers.ts";
import type { FetchQueue } from "./fetch-queue.ts";
import type { NodeLife } from "./life.ts";
import type { PossessionGate } from "./possession-gate.ts";
import type { SyncNodeOptions } from "./types.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("node:fetch");

/** A fetch still running after this long reports its progress, then at most this often. */
export const FETCH_PROGRESS_MS = 1000;
/** Commits of our own branch's recent history named as have-hints (newest first, breadth-first). */
const HINTED_OWN_COMMITS = 32;

/** A head whose closure is stored and that passed the checks; `fetched` when this node fetched it. */
export type Deliver = (remote: RemoteHead, fetched?: { publisher: PeerId; summary: FetchSummary; proven: number }) => void;

export interface HeadFetcherOptions {
  host: Host;
  life: NodeLife;
  store: Store;
  node: Pick<SyncNodeOptions, "fetch" | "progressEveryMs" | "providerLookupMs">;
  queue: () => FetchQueue<RemoteHead>;
  gate: PossessionGate;
  clientFor(peer: PeerId): Promise<SyncClient>;
  forgetClient(id: string): void;
  forgetClientIfClosed(id: string): void;
  /** Whether a head of this publisher may still be acted on (a revocation may have come meanwhile). */
  stillAdmitted(remote: RemoteHead): boolean;
  deliver: Deliver;
}

export class HeadFetcher {
  constructor(private readonly o: HeadFetcherOptions) {}

  /** Fetches one wanted head; failures are reported ("fetch-failed") and retried when they may pass. */
  async fetch(key: string, remote: RemoteHead): Promise<void> {
    const { life, gate, store } = this.o;
    const queue = this.o.queue();
    const publisher = peerIdFromKey(remote.publisher);
    if (!this.o.stillAdmitted(remote)) return;
    // A head we hold already has its closure here (blobs are stored closure first): nothing to
    // fetch, and no event (heads are re-sent on every new subscription and republish).
    if (store.reader().has(remote.head)) {
      queue.succeeded(key);
      const possessed = gate.unchecked(remote.publisher) || gate.alreadyTracked(remote) || (await gate.possessed(remote, null)) !== null;
      if (life.stopped || !possessed) return;
      this.o.deliver(remote);
      return;
    }
    try {
      const clients = await this.providerClients(remote.head, publisher);
      // What the publisher itself delivers is its own; a scope that covers everything needs no record.
      const scope = gate.readScope(remote.publisher);
      const own = scope && !scope.unrestricted && clients.length === 1 && clients[0]!.peer === publisher.toString() ? new HashIndex(256) : null;
      const onStored = own
        ? (hashes: readonly Hash[]) => {
            for (const h of hashes) own.insert(h);
          }
        : undefined;
      const summary = await fetchClosure(clients, remote.head, store, {
        ...this.fetchBudget(),
        onProgress: this.progressReporter(publisher, remote),
        have: this.haveHints(remote),
        ...(onStored ? { onStored } : {}),
      });
      queue.succeeded(key);
      for (const dropped of summary.dropped) this.o.forgetClient(dropped.peer);
      const proven = await gate.possessed(remote, own);
      if (proven === null || life.stopped) return;
      // Access may have ended while the fetch ran: its blobs stay, its head is not applied.
      if (!this.o.stillAdmitted(remote)) return;
      this.o.deliver(remote, { publisher, summary, proven });
    } catch (err) {
      // Stopping closes the streams under running fetches: that is no failure to report or retry.
      if (life.stopped) return;
      // Only a client whose connection died is replaced: other fetches may be using this one.
      this.o.forgetClientIfClosed(publisher.toString());
      const error = err instanceof Error ? err.message : String(err);
      // The publisher became reachable directly while this fetch ran through a relay: what is
      // stored stays (whole sub-closures), and the rest is asked again on the direct connection.
      if (err instanceof MovedToDirectError) {
        log("fetch of %s's head moves to the direct connection", publisher.toString());
        queue.again(key, remote);
        return;
      }
      // A peer that refused our capability was reported once (refused-by); a retry then comes
      // only once our chain is complete (own-chain.ts), not per announced head.
      if (err instanceof AuthRejectedError) return;
      // A peer that answered it lacks a blob, or may not share it with us, will answer the
      // same again, as will one whose DAG overran a budget; anything else (a dropped
      // connection, a stall, a refused stream) may pass.
      const final = err instanceof MissingBlobError || err instanceof BudgetExceededError;
      const retryInMs = final ? undefined : queue.retryLater(key, remote);
      const failed = { type: "fetch-failed", publisher: publisher.toString(), branchId: toHex(remote.branchId), error } as const;
      life.emit(retryInMs === undefined ? failed : { ...failed, retryInMs });
    }
  }

  /** The fetch options of `SyncNodeOptions.fetch`. */
  private fetchBudget() {
    const given = this.o.node.fetch ?? {};
    return { ...(given.limits ? { limits: given.limits } : {}), ...(given.window ? { window: given.window } : {}) };
  }

  /**
   * What a new head of this remote branch likely builds on, so the fetch's one-request closure
   * leaves it out: our tracking branch's metadata, the name blob and head commit it mirrors, and
   * the recent history of our own branch (same id, or the tracked name). A peer often commits on
   * top of what it pulled, or merely adopts our head; and by the time its head arrives we may have
   * committed again, so our head alone would miss the commit it adopted (the peer then sent that
   * commit's whole content back to us each round).
   */
  private haveHints(remote: RemoteHead): Hash[] {
    try {
      const repo = new Repository(this.o.store);
      const have: Hash[] = [];
      const tracking = findTrackingBranch(repo, remote.publisher, remote.branchId);
      if (tracking) {
        have.push(tracking.metaHandle, tracking.meta.tracking!.remoteName);
        if (tracking.meta.head) have.push(tracking.meta.head);
      }
      const byId = repo.branchById(remote.branchId);
      const ours = byId && !byId.tracking ? byId : tracking ? repo.listBranches().find((b) => !b.tracking && b.name === tracking.name) : undefined;
      if (ours?.meta.head) {
        let n = 0;
        for (const commit of ancestors(this.o.store.reader(), ours.meta.head, true)) {
          have.push(commit);
          if (++n >= HINTED_OWN_COMMITS) break;
        }
      }
      return have;
    } catch (err) {
      log("no have-hints, unreadable metadata (hints are an optimisation only): %s", describe(err));
      return [];
    }
  }

  /** Turns a fetch's progress calls into "fetch-progress" events: none for a short fetch, then one per interval. */
  private progressReporter(publisher: PeerId, remote: RemoteHead): (p: FetchProgress) => void {
    const life = this.o.life;
    const every = this.o.node.progressEveryMs ?? FETCH_PROGRESS_MS;
    const started = performance.now();
    let due = started + every;
    return (progress) => {
      const now = performance.now();
      if (now < due || !life.listening || life.stopped) return;
      due = now + every;
      const ids = { publisher: publisher.toString(), branchId: toHex(remote.branchId), head: toHex(remote.head) };
      life.emit({ type: "fetch-progress", ...ids, progress: { ...progress }, ms: now - started });
    };
  }

  /**
   * Authenticated clients for the peers that can serve `head`: the publisher when it is connected;
   * otherwise DHT providers found within the lookup budget, and the publisher (dialled while the
   * DHT is asked).
   */
  private async providerClients(head: Hash, publisher: PeerId): Promise<SyncClient[]> {
    const toPublisher = this.o.clientFor(publisher);
    toPublisher.catch(() => undefined);
    // A connected publisher serves at once: a DHT lookup would add tens of milliseconds to every
    // small update (the common case). The DHT is asked when the publisher is not connected to us.
    if (this.o.host.getConnections(publisher).length > 0) return [await toPublisher];
    const providers = await providersFor(this.o.host, head, publisher, { timeoutMs: this.o.node.providerLookupMs ?? 1000, limit: 4 });
    const settled = await Promise.allSettled(providers.map((p) => (p.equals(publisher) ? toPublisher : this.o.clientFor(p))));
    const clients = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    if (clients.length === 0) await toPublisher; // throws the publisher's own error
    return clients;
  }
}
