/**
 * A store synced with a team, as one object: what `tribles pile net sync` runs, for a library
 * user. It wires a `SyncNode` to the team's `TeamPolicy` (who may connect, read and publish),
 * presents our capability, waits for a publisher's pending capability before admitting its heads,
 * merges remote heads into local branches (merge policy), and flushes the store after each round
 * of sync work (durability policy).
 */
import { watch, type FSWatcher } from "node:fs";
import { TeamPolicy } from "../auth/policy.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { BranchId, Hash, Store } from "../core/store.ts";
import { type MergeOutcome, type MergePolicyOptions, RemoteMergePolicy } from "../repo/merge-policy.ts";
import { Repository } from "../repo/repository.ts";
import type { TrackingResult } from "../repo/tracking.ts";
import { AddressBook, PeerMemory } from "./address-book.ts";
import { CapabilityWait } from "./capability-wait.ts";
import { ControlServer } from "./control-socket.ts";
import { credentialsFor } from "./credentials.ts";
import { checkDirect, parseDialTarget } from "./dial-target.ts";
import { runDoctor } from "./doctor.ts";
import { ByteCounter, StatusTracker } from "./status.ts";
import type { Peer, RemoteHead, SyncDirection } from "./peer.ts";
import { peerIdFromKey, peerPublicKey } from "./peer-key.ts";
import { memberGate, Reach, type ReachEvent, type RelayLimits } from "./relay.ts";
import { type SyncEvent, SyncNode, type SyncNodeOptions } from "./sync.ts";

/** How long a head waits for its publisher's capability to be verified here (the CLI's figure). */
export const DEFAULT_CAPABILITY_WAIT_MS = 5000;
/** Sync work is also done this often, so a missed wake-up costs at most this long. */
export const DEFAULT_REFRESH_MS = 1000;

/** A store that can make its writes durable (a `Pile`); `TeamSync` flushes it after each round. */
export interface FlushableStore extends Store {
  /** Makes every write so far durable. */
  flush(): void;
  /** `flush` without blocking the event loop; when offered, rounds flush with it. */
  flushAsync?(): Promise<void>;
}

/** Everything a {@link TeamSync} reports: the node's own events and what the sync did to the store. */
export type TeamSyncEvent =
  | SyncEvent
  /** Relays, reservations and the path (direct or relayed) of each connection; see relay.ts. */
  | ReachEvent
  /** A local branch head was announced to the team. */
  | { type: "published"; branchId: BranchId; head: Hash }
  /** A remote head was applied to its tracking branch (or found stale, unchanged or rejected). */
  | { type: "applied"; remote: RemoteHead; result: TrackingResult }
  /** The merge policy merged (or failed to merge) a remote head into a local branch. */
  | { type: "merged"; remote: RemoteHead; outcome: MergeOutcome }
  /** A round of sync work failed (for instance the disk is full); the next round tries again. */
  | { type: "error"; error: Error };

/** How to join a team and sync a store with it. */
export interface TeamSyncOptions {
  /** The local store (a `Pile`, a `MemoryStore`, …). */
  store: Store;
  /** This node's identity: signs gossip and commits merged by the merge policy. */
  key: SigningKey;
  /** The team root's public key: every capability must chain up to it. */
  teamRoot: Uint8Array;
  /**
   * Handle of our capability's signature blob (what `tribles team invite` printed). Its chain is
   * read from `store` when present there (else peers verify it from theirs). Omitted: we present
   * none, and peers of the team refuse to serve or hear us unless we are the root.
   */
  capability?: Hash | null;
  /** "bidirectional" (default), "readonly" (follow, never publish) or "writeonly" (publish only). */
  direction?: SyncDirection;
  /** Multiaddrs to listen on (default: 127.0.0.1, QUIC and TCP, on free ports; `SYNC_LISTEN`: every interface). */
  listen?: string[];
  /** A listen address whose port is taken becomes one on a random port (for `SYNC_LISTEN`'s fixed ports). */
  listenFallback?: boolean;
  /** Refuse relayed connections (dialled or accepted through /p2p-circuit). */
  directOnly?: boolean;
  /**
   * Peers to dial and keep connected: multiaddrs ending in /p2p/PEER-ID, bare PeerIds or public
   * keys (64 hex; found through peer routing).
   */
  peers?: string[];
  /**
   * The address book file (`addressBookPath(pile)`): teammates and relays remembered there are
   * dialled too, and those that authenticate are remembered with their addresses.
   */
  addressBook?: string;
  /** A unix socket to answer `status` and `doctor` requests on (`controlSocketPath(pile)`). */
  controlSocket?: string;
  /** Find peers on the local network by mDNS (default false). */
  mdns?: boolean;
  /** Heads are gossiped again this often (ms). */
  republishMs?: number;
  /**
   * Merge policy: merge remote heads into the local branch of the same id and name (default true);
   * false leaves remote heads in their tracking branches.
   */
  merge?: boolean;
  /** Report ("applied") and merge only remote branches with these names (default: all). */
  branches?: string[];
  /** Durability policy: flush the store after each round of sync work (default true when it can). */
  flushEachRound?: boolean;
  /** How long a head waits for its publisher's capability (ms, default 5000). */
  capabilityWaitMs?: number;
  /** A file to watch (the pile's path): writes to it by other processes are published at once. */
  watchFile?: string;
  /** Sync work is also done this often (ms, default 1000). */
  refreshMs?: number;
  /** Budgets and deadline of each fetch (see `SyncNodeOptions.fetch`). */
  fetch?: SyncNodeOptions["fetch"];
  /** Serving limits (see `SyncNodeOptions.server`: budget, AUTH bounds, admission of strangers). */
  server?: SyncNodeOptions["server"];
  /** Handshakes one IP address may have pending at once (see `SyncNodeOptions`). */
  maxPendingHandshakesPerIp?: number;
  /**
   * Team relays to hold a reservation on (multiaddrs with /p2p/RELAY-ID); hole punching upgrades
   * relayed connections. None given: the relays remembered in the address book, if any.
   */
  relays?: string[];
  /** Serve as the team's relay: reservations only for members whose capability verified, within these limits. */
  relayServer?: { limits?: Partial<RelayLimits> };
  /** The team policy to use (default: a new one over `store`), for a caller that consults it too. */
  policy?: TeamPolicy;
  /** Called at the start of each round of sync work (after revocations stored since were picked up). */
  onRound?: () => void;
  /** Everything that happens; see {@link TeamSyncEvent}. */
  onEvent?: (event: TeamSyncEvent) => void;
}

/**
 * A running team sync. Reads and writes through {@link TeamSync.store} (the `Peer`) are synced;
 * so are writes straight to the wrapped store, at the next round. Hand the store to a
 * `Repository` to commit and read facts.
 */
export class TeamSync {
  private scheduled = false;
  private watcher: FSWatcher | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private reach: Reach | undefined;
  /** The round's flush still running, if any (see `flushInBackground`). */
  private flushing: Promise<void> | undefined;
  /** A round asked for a flush while one ran: one more follows it. */
  private flushAgain = false;

  private constructor(
    /** The running node (libp2p host, pile-sync server, gossip). */
    readonly node: SyncNode,
    /** The team's access policy over the local store. */
    readonly policy: TeamPolicy,
    private readonly inner: Store,
    private readonly flushEachRound: boolean,
    private readonly report: (event: TeamSyncEvent) => void,
    private readonly onRound: (() => void) | undefined,
    /** What `status` describes: connections, bytes, heads exchanged. */
    readonly tracker: StatusTracker,
    private readonly memory: PeerMemory | undefined,
    private readonly control: ControlServer | undefined,
  ) {}

  /** Starts the node, dials the given peers (their first dial is awaited) and starts syncing. */
  static async start(options: TeamSyncOptions): Promise<TeamSync> {
    const { store, key } = options;
    const given = options.onEvent ?? (() => {});
    // Events reach the status tracker and address book once the node exists (see below).
    let observe: ((event: TeamSyncEvent) => void) | undefined;
    const report = (event: TeamSyncEvent) => {
      observe?.(event);
      given(event);
    };
    const loaded = options.addressBook ? AddressBook.load(options.addressBook) : undefined;
    for (const message of loaded?.warnings ?? []) report({ type: "warning", message });
    const targets = (options.peers ?? []).map((p) => parseDialTarget(p));
    if (options.directOnly) for (const t of targets) checkDirect(t);
    const givenIds = new Set(targets.map((t) => t.peerId?.toString()));
    const remembered = loaded?.book.targets((peer) => givenIds.has(peer) || peer === peerIdOf(key)) ?? [];
    // No relays given: those remembered from earlier runs, so a restart with no flags is reachable
    // again (not with --direct-only, which refuses relayed connections anyway, nor on a relay).
    const relays = options.relays?.length || options.directOnly || options.relayServer ? (options.relays ?? []) : (loaded?.book.relayAddrs() ?? []);
    const direction = options.direction ?? "bidirectional";
    const policy = options.policy ?? new TeamPolicy(store, options.teamRoot);
    const waiting = new CapabilityWait();
    policy.onCapabilityVerified(() => waiting.notify());
    const waitMs = options.capabilityWaitMs ?? DEFAULT_CAPABILITY_WAIT_MS;
    const mergeOptions: MergePolicyOptions = options.branches ? { branches: options.branches } : {};
    const merger = new RemoteMergePolicy(new Repository(store, key), mergeOptions);
    const merging = options.merge !== false && direction !== "writeonly";
    // The node completes the chain in this object when it fetches it; the doctor presents the same.
    const credentials = credentialsFor(store, options.capability ?? null);
    const counter = new ByteCounter();
    const node = await SyncNode.start({
      store,
      key,
      teamRoot: options.teamRoot,
      credentials,
      policy,
      team: policy,
      // A publisher not known yet may be authenticating to us right now (the node dials it and asks
      // our peers for its chain); one already known (say read-only) or refused is not waited for.
      admit: (frame) =>
        policy.admits(frame.publisher, frame.branchId) ||
        (!policy.capabilityOf(frame.publisher) && !policy.refusalFor(frame.publisher) && waiting.wait(() => policy.admits(frame.publisher, frame.branchId), waitMs)),
      readScopeOf: (publisher) => policy.readScopeOf(publisher),
      direction,
      ...(options.listen ? { listen: options.listen } : {}),
      ...(options.listenFallback ? { listenFallback: true } : {}),
      ...(options.directOnly ? { directOnly: true } : {}),
      metrics: counter.component as NonNullable<SyncNodeOptions["metrics"]>,
      // Parsed once here (for --direct-only and the address book); the node dials these targets.
      peers: [...targets, ...remembered],
      mdns: options.mdns ?? false,
      ...(options.republishMs ? { republishMs: options.republishMs } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.server ? { server: options.server } : {}),
      ...(options.maxPendingHandshakesPerIp !== undefined ? { maxPendingHandshakesPerIp: options.maxPendingHandshakesPerIp } : {}),
      ...(relays.length || options.relayServer
        ? {
            reach: {
              relays,
              ...(options.relayServer
                ? {
                    relayServer: {
                      ...(options.relayServer.limits ? { limits: options.relayServer.limits } : {}),
                      admit: memberGate(policy, peerPublicKey),
                      onRefused: (peer) => report({ type: "reservation-refused", peer: peer.toString() }),
                    },
                  }
                : {}),
            },
          }
        : {}),
      onEvent: report,
      peerEvents: {
        onPublished: (branchId, head) => report({ type: "published", branchId, head }),
        onApplied: (remote, result) => {
          if (result.status !== "rejected" && !merger.wants(result.name)) return;
          report({ type: "applied", remote, result });
          const outcome = merging ? merger.apply(result) : undefined;
          if (outcome) report({ type: "merged", remote, outcome });
        },
      },
    });
    const flush = options.flushEachRound ?? true;
    const tracker = new StatusTracker(node.host, counter, options.directOnly ?? false);
    const memory = loaded ? new PeerMemory(node.host, loaded.book, (message) => report({ type: "warning", message })) : undefined;
    observe = (event) => {
      tracker.onEvent(event);
      if (event.type === "auth" && event.accepted) memory?.member(event.peer);
    };
    let control: ControlServer | undefined;
    if (options.controlSocket) {
      try {
        control = await ControlServer.start(options.controlSocket, {
          status: () => tracker.status(),
          doctor: (request) =>
            runDoctor(
              { host: node.host, credentials, ...(loaded ? { book: loaded.book } : {}), directOnly: options.directOnly ?? false, syncRunning: true },
              typeof request.peer === "string" ? request.peer : undefined,
            ),
        });
      } catch (err) {
        report({ type: "warning", message: `no control socket (status and doctor will not reach this sync): ${(err as Error).message}` });
      }
    }
    const sync = new TeamSync(node, policy, store, flush && typeof (store as Partial<FlushableStore>).flush === "function", report, options.onRound, tracker, memory, control);
    if (relays.length || options.relayServer) sync.reach = Reach.start(node.host, { relays }, report);
    node.onDelivered(() => sync.schedule());
    if (options.watchFile) sync.watcher = watch(options.watchFile, () => sync.schedule());
    sync.timer = setInterval(() => sync.schedule(), options.refreshMs ?? DEFAULT_REFRESH_MS);
    sync.schedule();
    return sync;
  }

  /** The synced store (a `Peer` around the local store): give it to a `Repository`. */
  get store(): Peer {
    return this.node.peer;
  }

  /**
   * Runs a round of sync work now: picks up revocations stored since the last round (a `team
   * revoke` by another process takes effect here), applies what arrived, publishes what changed,
   * flushes.
   */
  refresh(): void {
    if (this.stopped) return;
    try {
      this.policy.refreshRevocations();
      this.onRound?.();
      this.node.peer.refresh();
      if (this.flushEachRound) this.flushInBackground();
    } catch (err) {
      this.report({ type: "error", error: err as Error });
    }
  }

  /**
   * Flushes the round's writes without stalling the node: a blocking fsync (6-40 ms on this
   * machine's disk) held up the serving of the very head the round had just published (bench sync,
   * W3 through pile net sync). One flush runs at a time; rounds that end meanwhile share the next.
   */
  private flushInBackground(): void {
    const store = this.inner as FlushableStore;
    if (!store.flushAsync) {
      store.flush();
      return;
    }
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = store
      .flushAsync()
      .catch((err) => this.report({ type: "error", error: err as Error }))
      .finally(() => {
        this.flushing = undefined;
        if (!this.flushAgain || this.stopped) return;
        this.flushAgain = false;
        this.flushInBackground();
      });
  }

  /** Asks for a round soon (once per microtask however often it is asked). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.refresh();
    });
  }

  /** Stops the node after a last round; the wrapped store stays open (close it yourself). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.refresh();
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    this.reach?.stop();
    await this.control?.close();
    this.tracker.stop();
    this.memory?.stop();
    await this.node.stop();
    await this.flushing;
    if (this.flushEachRound) (this.inner as FlushableStore).flush();
  }
}

const peerIdOf = (key: SigningKey) => peerIdFromKey(key.publicKey).toString();
