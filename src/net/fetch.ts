/**
 * Fetches the missing part of a head's closure from one or more peers.
 *
 * 0. When the caller names blobs the head likely builds on (`FetchOptions.have`), one peer is first
 *    asked for the whole missing closure in one request (OP_CLOSURE). What arrives is checked like
 *    any download (hashes, then reachability from the head) and stored children first; a small
 *    update then needs no further round trip, and anything still missing goes through 1–2.
 * 1. Discover: walk CHILDREN level by level (one pipelined request per level and peer, so round
 *    trips grow with the DAG's depth, not its size), skipping blobs we already hold: a stored blob
 *    implies its whole closure is stored.
 * 2. Download in post-order (children before parents) in batches spread over the peers, several
 *    requests in flight per peer; verify every blob's BLAKE3 before storing it, and store batches
 *    strictly in post-order. An interrupted fetch therefore leaves only complete sub-closures
 *    behind, and the next fetch resumes where it stopped.
 * Small levels of the DAG (at most SPECULATE_MAX_HASHES missing blobs) are also downloaded while
 * they are discovered, in the same round trip as their CHILDREN request: a small update (a commit
 * of a few blobs) then needs no download round after discovery. Blobs that arrived that way are
 * stored in their place in step 2 (all at once when the whole closure did), never asked again.
 * A peer that sends bytes not matching their hash, breaks the protocol, stalls (no bytes for
 * the client's idle deadline) or overruns one of the fetch's budgets (fetch-budget.ts: blobs and
 * references discovered, depth, bytes buffered; requests in flight are held to `window` per
 * peer) is dropped for this fetch (nothing of its bad data is stored) and its work goes to the
 * others. A blob that a peer lacks is asked of the other peers.
 */
import type { PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { hashMany } from "../core/blake3.ts";
import { bytesEqual } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, BlobStore, BlobStorePut, Hash } from "../core/store.ts";
import { type ClientOptions, type Credentials, type ReceivedBlob, StalledPeerError, SyncClient } from "./client.ts";
import { BudgetExceededError, ByteBudget, type FetchLimits, resolveLimits } from "./fetch-budget.ts";
import type { Host } from "./host.ts";
import { DownloadScheduler } from "./download-scheduler.ts";
import { BadDataError, FetchFailedError, MissingBlobError } from "./fetch-errors.ts";
import { LevelDiscovery } from "./level-discovery.ts";
import { MissingDag, type PackedHashes } from "./missing-dag.ts";
import { LIMITS } from "./wire.ts";
import { describe, netLogger } from "./log.ts";

const log = netLogger("fetch");

export { BadDataError, BudgetExceededError, FetchFailedError, MissingBlobError, StalledPeerError };

/**
 * Levels with at most this many missing blobs are downloaded during discovery (see above)… Their
 * sizes are unknown when they are asked and a level's reply is held whole, so this also bounds
 * what a level of a large file's 1 MiB chunks costs (at 128, a 100 MiB file's chunks arrived in
 * one reply: its receiver peaked at 258 MB); 32 still takes a commit of a few dozen files.
 */
const SPECULATE_MAX_HASHES = 32;
/** …until this many bytes have arrived that way in one fetch. */
const SPECULATE_MAX_BYTES = 16 << 20;
/**
 * Bytes the download's requests in flight ask for in all (DownloadPlan.maxInFlightBytes): four of
 * a large file's 1 MiB chunks, or four requests of about `batchBytes` of small blobs.
 */
const DOWNLOAD_IN_FLIGHT_BYTES = 4 << 20;
/** Byte budget of the one-request closure (see `FetchOptions.have`); larger updates go level by level. */
const CLOSURE_BUDGET_BYTES = 1 << 20;

/** How far a fetch has come. */
export interface FetchProgress {
  /** Blobs known to be missing so far (grows during discovery). */
  discovered: number;
  stored: number;
  bytes: number;
  /** True until the missing DAG has been walked: until then `discovered` may still grow. */
  discovering: boolean;
}

/** What a finished fetch transferred. */
export interface FetchSummary {
  blobs: number;
  bytes: number;
  /** Request frames sent (each is one round trip when not pipelined). */
  requests: number;
  /** Depth of the missing part of the DAG (CHILDREN round trips). */
  depth: number;
  ms: number;
  /** Peers that served (or were asked to serve) this fetch. */
  peers: number;
  /** Peers dropped during the fetch, with the reason. */
  dropped: { peer: string; error: string }[];
  /**
   * Blob bytes a peer sent that this fetch did not need: held already (a one-request closure whose
   * have-hints missed part of what we hold; the peer knows only the hints) or not under the head.
   */
  redundantBytes: number;
}

export interface FetchOptions {
  /** Most hashes per GET_BLOBS request. */
  batch?: number;
  /** Aim for about this many bytes per GET_BLOBS request. */
  batchBytes?: number;
  /** Requests (CHILDREN_MANY, GET_BLOBS) in flight at once, per peer (default 8). */
  window?: number;
  /**
   * Also drop a peer that leaves one request unanswered this long in total, moving or not. Off by
   * default: a silent peer is caught by its client's idle deadline (ClientOptions.idleMs).
   */
  stallMs?: number;
  /** This fetch's budgets (fetch-budget.ts); each defaults to DEFAULT_FETCH_LIMITS. */
  limits?: Partial<FetchLimits>;
  /**
   * Blobs we hold (with their closures) that the head likely builds on, such as the previous head.
   * When given (even empty), the fetch first asks one peer for the head's whole missing closure in
   * one request (OP_CLOSURE), which leaves out everything under these; whatever that does not
   * bring (too large, an older peer) is then fetched level by level.
   */
  have?: Hash[];
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
  onPeerDropped?: (peer: string, error: Error) => void;
  /** Called with the hashes of each batch stored (a proof-of-possession check wants what a peer delivered). */
  onStored?: (hashes: readonly Hash[]) => void;
}

/**
 * Fetches from connected, authenticated peers (one, or several in parallel); the clients stay open.
 * A dropped peer's client is aborted (see `FetchSummary.dropped`).
 */
export function fetchClosure(
  clients: SyncClient | readonly SyncClient[],
  head: Hash,
  store: BlobStore & BlobStorePut,
  opts: FetchOptions = {},
): Promise<FetchSummary> {
  return new Fetch(Array.isArray(clients) ? [...clients] : [clients as SyncClient], store, opts).run(head);
}

export interface PeerFetchRequest extends FetchOptions, ClientOptions {
  host: Host;
  /** Peers believed to hold the closure (see `providersFor`); tried in parallel. */
  providers: (PeerId | Multiaddr)[];
  credentials: Credentials;
  head: Hash;
  store: BlobStore & BlobStorePut;
  /** Give up on connecting to a provider after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/** Connects to every provider, fetches from all that accept us, then closes those connections. */
export async function fetchFromPeers(req: PeerFetchRequest): Promise<FetchSummary> {
  if (req.store.reader().has(req.head)) return new Fetch([], req.store, req).run(req.head);
  const timeout = AbortSignal.timeout(req.connectTimeoutMs ?? 10_000);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const clientOptions = req.idleMs === undefined ? {} : { idleMs: req.idleMs };
  const attempts = await Promise.allSettled(req.providers.map((p) => SyncClient.connect(req.host, p, req.credentials, signal, clientOptions)));
  const clients: SyncClient[] = [];
  const errors: { peer: string; error: Error }[] = [];
  attempts.forEach((a, i) => {
    if (a.status === "fulfilled") clients.push(a.value);
    else {
      const error = a.reason instanceof Error ? a.reason : new Error(String(a.reason));
      errors.push({ peer: req.providers[i]!.toString(), error });
      req.onPeerDropped?.(req.providers[i]!.toString(), error);
    }
  });
  if (clients.length === 0) throw new FetchFailedError(errors);
  try {
    const summary = await new Fetch(clients, req.store, req).run(req.head);
    summary.dropped = errors.map((e) => ({ peer: e.peer, error: e.error.message })).concat(summary.dropped);
    return summary;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** One peer taking part in a fetch. */
interface Source {
  client: SyncClient;
  /** The client's peer (as DownloadScheduler names a source). */
  readonly peer: string;
  requestsBefore: number;
  dropped: boolean;
  /** Requests awaiting a reply. */
  inFlight: number;
}

class Fetch {
  private readonly sources: Source[];
  private readonly errors: { peer: string; error: Error }[] = [];
  private readonly started = performance.now();
  /** Our store's snapshot; renewed after the one-request closure stored blobs. */
  private local: BlobReader;
  private readonly progress: FetchProgress = { discovered: 0, stored: 0, bytes: 0, discovering: true };
  private readonly summary: FetchSummary = { blobs: 0, bytes: 0, requests: 0, depth: 0, ms: 0, peers: 0, dropped: [], redundantBytes: 0 };
  private readonly limits: FetchLimits;
  /** Reply bytes this fetch holds (see FetchLimits.maxBufferedBytes). */
  private readonly buffered: ByteBudget;
  private readonly window: number;
  /** Dropped peers whose children lists have been cleared (see `discoverLevel`). */
  private readonly forgotten = new Set<Source>();

  constructor(
    clients: SyncClient[],
    private readonly store: BlobStore & BlobStorePut,
    private readonly opts: FetchOptions,
  ) {
    this.sources = clients.map((client) => ({ client, peer: client.peer, requestsBefore: client.requests, dropped: false, inFlight: 0 }));
    this.summary.peers = clients.length;
    this.local = store.reader();
    this.limits = resolveLimits(opts.limits);
    this.buffered = new ByteBudget(this.limits.maxBufferedBytes);
    this.window = opts.window ?? 8;
  }

  async run(head: Hash): Promise<FetchSummary> {
    if (!this.local.has(head) && this.opts.have) await this.closureFirst(head, this.opts.have);
    if (!this.local.has(head)) {
      const { order, prefetched } = await this.discover(head);
      if (prefetched.size === order.length) this.storeBatch(Array.from({ length: order.length }, (_, i) => prefetched.get(i)!), order.slice(0, order.length));
      else await this.download(order, prefetched);
    }
    for (const s of this.sources) this.summary.requests += s.client.requests - s.requestsBefore;
    this.summary.ms = performance.now() - this.started;
    this.summary.dropped = this.errors.map((e) => ({ peer: e.peer, error: e.error.message }));
    return this.summary;
  }

  private live(): Source[] {
    return this.sources.filter((s) => !s.dropped);
  }

  private drop(source: Source, error: Error): void {
    if (source.dropped) return;
    source.dropped = true;
    source.inFlight = 0;
    this.errors.push({ peer: source.client.peer, error });
    this.opts.onPeerDropped?.(source.client.peer, error);
    // A silent peer's connection is likely dead: close it too, so the next dial makes a fresh one.
    source.client.abort(error.message, error instanceof StalledPeerError);
  }

  /** The error to raise once no peer is left: the peer's own error when there was only one. */
  private exhausted(): Error {
    if (this.opts.signal?.aborted) return new Error("fetch aborted");
    if (this.errors.length === 1) return this.errors[0]!.error;
    return new FetchFailedError(this.errors);
  }

  /** The reply, or a StalledPeerError once it has taken `stallMs` in total (when set). */
  private deadline<T>(source: Source, reply: Promise<T>): Promise<T> {
    const ms = this.opts.stallMs;
    if (ms === undefined) return reply;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StalledPeerError(source.client.peer, ms)), ms);
    });
    return Promise.race([reply, stalled]).finally(() => clearTimeout(timer));
  }

  /**
   * Asks the first live peer for the head's missing closure in one request and stores the part
   * that checks out: blobs matching their hashes and reachable from the head (see
   * `reachableInPostOrder`), children first. A peer that fails the request (it may predate the
   * op) is just not asked again; one that sends bad bytes is dropped, as in the download.
   */
  private async closureFirst(head: Hash, hints: Hash[]): Promise<void> {
    const source = this.live()[0];
    if (!source?.client.closureSupported) return;
    // Only blobs we hold may prune the closure: the peer leaves out everything under them.
    const have = hints.filter((h) => this.local.has(h)).slice(0, LIMITS.maxBatch);
    let received: ReceivedBlob[] | null;
    try {
      received = await this.deadline(source, source.client.closure(head, have, CLOSURE_BUDGET_BYTES));
    } catch (err) {
      log("one-request closure from %s failed, going level by level: %s", source.client.peer, describe(err));
      source.client.disableClosure(); // it stalled: the level-by-level fetch decides about the peer
      return;
    }
    if (!received?.length) return;
    const digests = hashMany(received.map((r) => r.bytes));
    const bad = received.findIndex((r, i) => !bytesEqual(digests[i]!, r.hash));
    if (bad >= 0) return this.drop(source, new BadDataError(source.client.peer, received[bad]!.hash.slice()));
    const { blobs, hashes } = reachableInPostOrder(head, received, this.local);
    let receivedBytes = 0;
    for (const r of received) receivedBytes += r.bytes.length;
    for (const b of blobs) receivedBytes -= b.length;
    this.summary.redundantBytes += receivedBytes;
    if (blobs.length === 0) return;
    this.progress.discovered += blobs.length;
    this.storeBatch(blobs, hashes);
    this.local = this.store.reader();
  }

  /**
   * Walks the missing DAG breadth-first; returns its entries' hashes in post-order, and in the same
   * order the bytes of those that arrived (verified) during the walk.
   */
  private async discover(head: Hash): Promise<{ order: PackedHashes; prefetched: Map<number, Uint8Array> }> {
    const dag = new MissingDag(head);
    let frontier: number[] = [0];
    /** Blobs that arrived during the walk, by entry. */
    const early = new Map<number, Uint8Array>();
    const speculations: Promise<void>[] = [];
    let speculating = true;
    let speculativeBytes = 0;
    while (frontier.length) {
      this.summary.depth++;
      speculating &&= frontier.length <= SPECULATE_MAX_HASHES && speculativeBytes < SPECULATE_MAX_BYTES;
      if (speculating) {
        const entries = frontier;
        const parents = entries.map((e) => dag.hashOf(e).slice());
        speculations.push(
          this.speculate(parents).then((got) => {
            got.forEach((blob, i) => {
              if (!blob) return;
              early.set(entries[i]!, blob);
              speculativeBytes += blob.length;
            });
          }),
        );
      }
      frontier = await this.discoverLevel(dag, frontier);
      this.progress.discovered = dag.size;
      this.opts.onProgress?.(this.progress);
    }
    this.progress.discovering = false;
    const entries = dag.postOrder();
    // Packed, not a view per hash (at a million blobs the views alone took ~70 MB), and the DAG
    // is garbage once this returns. Few blobs arrive early (small levels only): a map of them.
    const order = dag.hashesOf(entries);
    await Promise.all(speculations);
    const prefetched = new Map<number, Uint8Array>();
    entries.forEach((e, i) => {
      const blob = early.get(e);
      if (blob) prefetched.set(i, blob);
    });
    return { order, prefetched };
  }

  /**
   * Lists the children of one level's entries through the live peers (level-discovery.ts), each
   * reply indexed as it arrives. A peer dropped meanwhile is un-believed: the lists it gave (this
   * level or earlier) are cleared and asked again of the others. Returns the entries first named
   * in this level.
   */
  private async discoverLevel(dag: MissingDag, frontier: number[]): Promise<number[]> {
    const next: number[] = [];
    const plan = { frontier, sources: this.sources, window: this.window, maxBatch: LIMITS.maxBatch, signal: this.opts.signal };
    await new LevelDiscovery(plan, {
      request: (source, parents) => this.deadline(source, source.client.childrenPacked(parents.map((e) => dag.hashOf(e).slice()), this.buffered)),
      index: (source, parents, lists) => this.indexReply(dag, parents, source, lists, next),
      release: (bytes) => this.buffered.release(bytes),
      drop: (source, error) => this.drop(source, error),
      reclaim: () => {
        const parents: number[] = [];
        for (const source of this.sources) {
          if (!source.dropped || this.forgotten.has(source)) continue;
          this.forgotten.add(source);
          for (const parent of dag.forget(this.peerNumber(source))) parents.push(parent);
        }
        return parents;
      },
      exhausted: () => this.exhausted(),
    }).run();
    return next;
  }

  /** The number MissingDag knows a peer by (1…255). */
  private peerNumber(source: Source): number {
    return Math.min(255, this.sources.indexOf(source) + 1);
  }

  /**
   * Indexes one CHILDREN_MANY reply, after checking it against the budgets, each charged to the
   * peer that sent it (throws BudgetExceededError, indexing nothing, when it would cross one):
   * blobs and references it named, the depth of what it names. Returns the parents the peer lacks.
   */
  private indexReply(dag: MissingDag, parents: readonly number[], source: Source, lists: readonly (Uint8Array | null)[], next: number[]): number[] {
    // Count first, so a reply over budget costs one pass and leaves the DAG untouched. A blob we
    // hold ends the walk (its closure is stored), so it is neither counted nor recorded.
    let references = 0;
    let fresh = 0;
    let deepest = 0;
    const held: Uint8Array[] = [];
    lists.forEach((list, i) => {
      if (!list) return;
      const mask = new Uint8Array(list.length / 32);
      for (let k = 0; k < mask.length; k++) {
        if (this.local.has(list.subarray(k * 32, k * 32 + 32))) mask[k] = 1;
        else {
          references++;
          if (dag.nodes.find(list, k * 32) >= 0) continue;
          fresh++;
          deepest = Math.max(deepest, dag.depthOf(parents[i]!) + 1);
        }
      }
      held.push(mask);
    });
    const peer = source.client.peer;
    const by = this.peerNumber(source);
    if (dag.namedBy(by) + fresh > this.limits.maxBlobs) throw new BudgetExceededError(peer, "maxBlobs", this.limits.maxBlobs);
    if (dag.listedFrom(by) + references > this.limits.maxReferences) throw new BudgetExceededError(peer, "maxReferences", this.limits.maxReferences);
    if (deepest > this.limits.maxDepth) throw new BudgetExceededError(peer, "maxDepth", this.limits.maxDepth);
    const lacking: number[] = [];
    let listed = 0;
    lists.forEach((list, k) => {
      const parent = parents[k]!;
      if (!list) {
        lacking.push(parent);
        return;
      }
      const mask = held[listed++]!;
      dag.beginChildren(parent, by);
      for (let j = 0; j < mask.length; j++) {
        if (mask[j]) continue;
        const added = dag.addChild(parent, list, j * 32);
        if (added >= 0) next.push(added);
      }
    });
    return lacking;
  }

  /**
   * The blobs of `hashes` from the first live peer, each verified (null where it lacks one or sent
   * bytes that do not match). Never rejects: a failure leaves the blobs to the download step, and
   * a broken peer is dealt with by the discovery's own requests.
   */
  private async speculate(hashes: Hash[]): Promise<(Uint8Array | null)[]> {
    const source = this.live()[0];
    if (!source) return hashes.map(() => null);
    try {
      // Its bytes stay reserved until the fetch ends: they are held until stored.
      const reply = await this.deadline(source, source.client.getBlobs(hashes, this.buffered));
      const present = reply.flatMap((b) => (b ? [b] : []));
      const digests = hashMany(present);
      let k = 0;
      return reply.map((blob, i) => (blob && bytesEqual(digests[k++]!, hashes[i]!) ? blob : null));
    } catch (err) {
      log("speculative download from %s failed (left to the download step): %s", source.client.peer, describe(err));
      return hashes.map(() => null);
    }
  }

  /**
   * Stores blobs verified against `hashes` (in post-order: each one's closure is stored already,
   * or among them), without hashing them a second time.
   */
  private storeBatch(blobs: Uint8Array[], hashes: readonly Hash[]): void {
    this.store.putVerified(blobs, hashes);
    this.opts.onStored?.(hashes);
    for (const b of blobs) this.summary.bytes += b.length;
    this.summary.blobs += blobs.length;
    this.progress.stored = this.summary.blobs;
    this.progress.bytes = this.summary.bytes;
    this.opts.onProgress?.(this.progress);
  }

  /**
   * Downloads `order` (post-order hashes) and stores it batch by batch, in order; `prefetched[i]`,
   * when present, is blob i already received (it is stored in its place, not asked again).
   */
  private download(order: PackedHashes, prefetched: Map<number, Uint8Array>): Promise<void> {
    const plan = {
      order,
      prefetched,
      sources: this.sources,
      batch: this.opts.batch ?? 1024,
      batchBytes: this.opts.batchBytes ?? 1 << 20,
      window: this.window,
      maxInFlightBytes: DOWNLOAD_IN_FLIGHT_BYTES,
      signal: this.opts.signal,
    };
    return new DownloadScheduler(plan, {
      request: (source, hashes, onBlob) => this.deadline(source, source.client.streamBlobs(hashes, this.buffered, onBlob)),
      drop: (source, error) => this.drop(source, error),
      store: (blobs, hashes) => this.storeBatch(blobs, hashes),
      release: (bytes) => this.buffered.release(bytes),
      exhausted: () => this.exhausted(),
    }).run();
  }
}

/**
 * Of the received blobs (verified), those reachable from `root` through received blobs (a child is
 * a 32-byte-aligned chunk naming one), children before parents, whatever order they came in. A
 * blob we hold ends the walk: its closure is stored already. Which chunks name blobs the peer left
 * out (those under `have`) we cannot tell from data, so the peer's word that nothing else is
 * missing is taken, as its CHILDREN answers are in the level-by-level fetch.
 */
export function reachableInPostOrder(root: Hash, received: readonly ReceivedBlob[], local: BlobReader): { blobs: Uint8Array[]; hashes: Hash[] } {
  const index = new HashIndex(Math.max(16, received.length));
  const bytesOf: Uint8Array[] = [];
  for (const { hash, bytes } of received) {
    const { entry, added } = index.insert(hash);
    if (added) bytesOf[entry] = bytes;
  }
  const blobs: Uint8Array[] = [];
  const hashes: Hash[] = [];
  const rootEntry = index.find(root);
  if (rootEntry < 0) return { blobs, hashes }; // a closure cut short: nothing in it can be checked
  const state = new Uint8Array(index.size); // 0 new, 1 open, 2 done
  const stack = [rootEntry];
  while (stack.length) {
    const e = stack[stack.length - 1]!;
    if (state[e] === 0) {
      state[e] = 1;
      const bytes = bytesOf[e]!;
      for (let at = 0; at + 32 <= bytes.length; at += 32) {
        const child = index.find(bytes, at);
        if (child >= 0 && state[child] === 0 && !local.has(index.keyAt(child))) stack.push(child);
      }
    } else {
      stack.pop();
      if (state[e] === 1) {
        state[e] = 2;
        blobs.push(bytesOf[e]!);
        hashes.push(index.keyAt(e));
      }
    }
  }
  return { blobs, hashes };
}
