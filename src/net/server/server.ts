/**
 * pile-sync, server side: both protocol versions (wire.ts) share one handler per op (this folder).
 * AUTH binds a read scope to the connection; every later request is checked against it
 * (`requireScope`). Every length is bounded before use; a malformed frame aborts that stream,
 * never the process.
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { bytesEqual } from "../../core/bytes.ts";
import type { BlobStore, BranchStore, Hash } from "../../core/store.ts";
import { Admission, DEFAULT_ADMISSION } from "../admission.ts";
import { AUTH_LIMITS, type AuthLimits } from "../auth-frame.ts";
import { checkLimits, Lane, PerKeyCounter, SERVER_BUDGET, type ServerBudget } from "../budget.ts";
import type { Host } from "../host.ts";
import { peerPublicKey } from "../peer-key.ts";
import { PROTOCOL_V4, PROTOCOL_V5 } from "../versions.ts";
import { LIMITS } from "../wire.ts";
import { notAuthenticated, type ServerContext } from "./context.ts";
import { type AccessPolicy, type AuthDecision, type AuthRequest, type Denied, isScope, type Scope, type ServerEvents, type ServerOptions } from "./policy.ts";
import { serveV4 } from "./v4.ts";
import { serveV5 } from "./v5.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("server");

interface Grant {
  scope: Scope;
  key: Uint8Array;
  connection: Connection;
}

export class SyncServer implements ServerContext {
  /** What each open connection's successful AUTH granted, by connection id. */
  private readonly grants = new Map<string, Grant>();
  /** Revocation blobs received per connection (LIMITS.maxRevocationBlobsPerConnection). */
  private readonly revocationsReceived = new Map<string, number>();
  /** Each connection's turn-taking (budget.ts): one request computing per connection at a time. */
  private readonly lanes = new Map<string, Lane>();
  readonly budget: ServerBudget;
  readonly authLimits: AuthLimits;
  readonly authReads: PerKeyCounter;
  private readonly admission: Admission;
  private readonly onClose = (evt: CustomEvent<Connection>) => {
    this.grants.delete(evt.detail.id);
    this.revocationsReceived.delete(evt.detail.id);
    this.lanes.delete(evt.detail.id);
  };

  constructor(
    private readonly node: Host,
    readonly store: BlobStore & BranchStore,
    readonly policy: AccessPolicy,
    readonly events: ServerEvents = {},
    readonly options: ServerOptions = {},
  ) {
    checkLimits("budget", options.budget);
    checkLimits("auth", options.auth);
    checkLimits("admission", options.admission);
    this.budget = { ...SERVER_BUDGET, ...definedOnly(options.budget) };
    this.authLimits = { ...AUTH_LIMITS, ...definedOnly(options.auth) };
    this.authReads = new PerKeyCounter(this.budget.authStreamsPerConnection);
    this.admission = new Admission(node, { ...DEFAULT_ADMISSION, ...definedOnly(options.admission) }, (conn, reason) => events.onStrangerClosed?.(conn.remotePeer.toString(), reason));
  }

  async start(): Promise<void> {
    // Relayed connections (limited by the relay's duration and bytes, relay.ts) carry pile-sync too.
    const v4 = { maxInboundStreams: this.budget.v4StreamsPerConnection, runOnLimitedConnection: true };
    const v5 = { maxInboundStreams: this.budget.v5StreamsPerConnection, runOnLimitedConnection: true };
    await this.node.handle(PROTOCOL_V4, (stream: Stream, conn: Connection) => this.guard(stream, conn, () => serveV4(this, stream, conn, this.laneOf(conn))), v4);
    await this.node.handle(PROTOCOL_V5, (stream: Stream, conn: Connection) => this.guard(stream, conn, () => serveV5(this, stream, conn, this.laneOf(conn))), v5);
    this.node.addEventListener("connection:close", this.onClose);
    this.admission.start();
  }

  async stop(): Promise<void> {
    this.admission.stop();
    this.node.removeEventListener("connection:close", this.onClose);
    await this.node.unhandle([PROTOCOL_V4, PROTOCOL_V5]);
  }

  /**
   * We authenticated to `peer` and it accepted us (the sync node's client side): its connections
   * are members, not strangers waiting for AUTH.
   */
  admitPeer(peer: PeerId): void {
    this.admission.admitPeer(peer);
  }

  /** Inbound connections that have not authenticated yet (for tests and benches). */
  get strangerCount(): number {
    return this.admission.strangerCount;
  }

  private laneOf(conn: Connection): Lane {
    let lane = this.lanes.get(conn.id);
    if (!lane) {
      lane = new Lane();
      if (conn.status === "open") this.lanes.set(conn.id, lane);
    }
    return lane;
  }

  private async guard(stream: Stream, conn: Connection, serve: () => Promise<void>): Promise<void> {
    try {
      await serve();
      await stream.close();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.events.onError?.(conn.remotePeer.toString(), error);
      stream.abort(error);
    }
  }

  /**
   * Ends what a key may do here at once: every connection it authenticated on loses its grant
   * (later requests fail) and is closed. Returns how many connections were closed.
   */
  cutOff(key: Uint8Array): number {
    let closed = 0;
    for (const [id, grant] of [...this.grants]) {
      if (!bytesEqual(grant.key, key)) continue;
      this.grants.delete(id);
      closed++;
      void grant.connection.close().catch((err) => {
        log("closing a cut-off connection failed (aborted): %s", describe(err));
        grant.connection.abort(new Error("access ended"));
      });
    }
    return closed;
  }

  async authenticate(conn: Connection, capHandle: Hash, chain: Uint8Array[]): Promise<Denied | true | null> {
    const remoteKey = peerPublicKey(conn.remotePeer);
    if (!remoteKey) return null;
    if (!this.countRevocationBlobs(conn, chain.length)) return null;
    const decision = await this.authorize({ capHandle, remoteKey, chain, from: conn.remotePeer.toString() });
    const accepted = isScope(decision);
    // A failed AUTH leaves any earlier grant on this connection as it was (as the reference does).
    if (accepted) {
      this.grants.set(conn.id, { scope: decision, key: remoteKey, connection: conn });
      this.admission.admit(conn);
    }
    const refusal = !accepted && decision ? decision.refusal : undefined;
    this.events.onAuth?.(remoteKey, accepted, capHandle, refusal);
    return accepted ? true : refusal ? { refusal } : null;
  }

  countRevocationBlobs(conn: Connection, n: number): boolean {
    const total = (this.revocationsReceived.get(conn.id) ?? 0) + n;
    this.revocationsReceived.set(conn.id, total);
    return total <= LIMITS.maxRevocationBlobsPerConnection;
  }

  private async authorize(request: AuthRequest): Promise<AuthDecision> {
    try {
      return await this.policy.authorize(request);
    } catch (err) {
      log.error("the access policy threw on an AUTH from %s (refused): %s", request.from, describe(err));
      return null;
    }
  }

  scopeOf(conn: Connection): Scope | undefined {
    return this.grants.get(conn.id)?.scope;
  }

  requireScope(conn: Connection): Scope {
    const scope = this.scopeOf(conn);
    if (!scope) throw notAuthenticated();
    return scope;
  }
}

/** `limits` without its undefined entries (so they do not override the defaults). */
function definedOnly<T extends object>(limits: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
