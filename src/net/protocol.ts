/**
 * pile-sync, server side. Two protocol versions share one handler set:
 *
 * - `/triblespace/pile-sync/4`, the reference's form (FORMATS §9.1): one operation per stream,
 *   AUTH (0x05), GET_BLOB (0x02), CHILDREN (0x03); integers big-endian.
 * - `/tribles/pile-sync/5`, ours: one long-lived stream per connection carrying pipelined,
 *   batched frames (many hashes per request, responses streamed back in request order). Its AUTH
 *   also carries the capability chain's blobs, so a server can verify a peer it has never synced with.
 *
 * v5 frames (client → server; integers big-endian):
 *   AUTH        0x05 cap[32] count:u32 (len:u32 bytes)*count     → status:u8
 *   GET_BLOBS   0x12 count:u32 hash[32]*count                     → per hash: len:u64 bytes (all-ones = missing)
 *   CHILDREN_MANY 0x13 count:u32 hash[32]*count                   → per hash: n:u32 child[32]*n (all-ones = parent absent)
 *   HEADS       0x14                                              → n:u32 (branch[16] head[32])*n
 *   CLOSURE     0x15 root[32] count:u32 have[32]*count budget:u32  → (hash[32] len:u64 bytes)* zero[32] all-ones:u64
 *   PUSH_HEAD   0x16 frame[81]                                    → status:u8 (0 accepted, 1 refused)
 *   REVOCATIONS 0x17 count:u32 (len:u32 bytes)*count               → count:u32 (len:u32 bytes)*count
 *   CHAIN       0x18 key[32]                                      → count:u32 (len:u32 bytes)*count
 * CHILDREN_MANY tells an absent (or out-of-scope) parent apart from a leaf, so a client fetching
 * from several peers never mistakes "this peer lacks it" for "it has no children".
 * CLOSURE answers a small update in one round trip instead of one per DAG level: the present,
 * in-scope closure of `root` minus everything under a `have` hash, children before parents. It is
 * all or nothing: when the closure exceeds `budget` bytes or LIMITS.maxClosureBlobs blobs, only the
 * terminator comes back (a client can check a partial closure against nothing, so it would be
 * wasted) and the client falls back to CHILDREN_MANY/GET_BLOBS. Servers that predate the op abort
 * the stream, so clients send it on a stream of its own.
 * PUSH_HEAD hands a server a new branch head directly, one hop before gossip brings it: the frame
 * is gossip's HEAD frame, its publisher must be the connection's authenticated remote key, the
 * connection must hold a grant, and the head must pass gossip's admission (write permission);
 * then it is delivered as if gossiped. Like CLOSURE it goes on a stream of its own.
 *
 * AUTH's reply says why it refuses (auth-reply.ts). REVOCATIONS hands the server the revocation
 * blobs the client holds and answers with the server's own (see revocation-sync.ts): every
 * member passes on every revocation. CHAIN returns the verified capability chain the server holds
 * for a key (leaf sig first; none when it holds none), so a head relayed from a publisher we never
 * met can be judged by the publisher's own capability. Both go on a stream of their own, like
 * CLOSURE, and need a grant on the connection.
 *
 * AUTH binds a read scope to the connection; every later request is checked against it. Every
 * length is bounded before use; a malformed frame aborts that stream, never the process.
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import type { Refusal } from "../auth/refusal.ts";
import { hash as blake3 } from "../core/blake3.ts";
import { bytesEqual } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobReader, BlobStore, BranchStore, Hash } from "../core/store.ts";
import { Admission, type AdmissionLimits, DEFAULT_ADMISSION } from "./admission.ts";
import { AUTH_LIMITS, type AuthLimits, readAuthFrame } from "./auth-frame.ts";
import { AUTH_OK, AUTH_REJECTED, encodeRefusal } from "./auth-reply.ts";
import { checkLimits, Lane, PerKeyCounter, SERVER_BUDGET, type ServerBudget, WorkMeter } from "./budget.ts";
import { decodeHeadFrame, HEAD_FRAME_LEN, type HeadFrame } from "./gossip.ts";
import type { Host } from "./host.ts";
import { peerPublicKey } from "./host.ts";
import { BufferedWriter, MISSING_LEN, ProtocolError, StreamReader, sendAll } from "./stream-io.ts";

import { PROTOCOL_V4, PROTOCOL_V5 } from "./versions.ts";

export { PROTOCOL_V4, PROTOCOL_V5 };

export const OP_GET_BLOB = 0x02;
export const OP_CHILDREN = 0x03;
export const OP_AUTH = 0x05;
export const OP_GET_BLOBS = 0x12;
export const OP_CHILDREN_MANY = 0x13;
/** v5: list (branch id, branch-metadata handle) of every branch whose head the peer may read. */
export const OP_HEADS = 0x14;
/** v5: a root's missing closure in one reply (see above). */
export const OP_CLOSURE = 0x15;
/** v5: a branch head pushed by its publisher (see above). */
export const OP_PUSH_HEAD = 0x16;
/** v5: revocations exchanged (see above). */
export const OP_REVOCATIONS = 0x17;
/** v5: the capability chain the server holds for a key (see above). */
export const OP_CHAIN = 0x18;
export const PUSH_ACCEPTED = 0x00;
export const PUSH_REFUSED = 0x01;
/** CHILDREN_MANY count meaning "this peer lacks the parent (or may not share it)". */
export const ABSENT_PARENT = 0xffffffff;
export { AUTH_OK, AUTH_REJECTED };

export const LIMITS = {
  /** Hashes per batched request. */
  maxBatch: 4096,
  /** Blobs carried by a v5 AUTH (see auth-frame.ts). */
  maxAuthBlobs: AUTH_LIMITS.maxBlobs,
  /** Bytes per blob carried by AUTH. */
  maxAuthBlobBytes: AUTH_LIMITS.maxBlobBytes,
  /** Largest blob a client accepts in a response. */
  maxBlobBytes: 2 ** 32,
  /** Most children a client accepts for one parent (a 64 MiB blob of distinct references). */
  maxChildren: 1 << 21,
  /** Largest byte budget of a CLOSURE request (the client buffers the whole reply before storing). */
  maxClosureBytes: 4 << 20,
  /** Most blobs in a CLOSURE reply; also bounds the server's walk. */
  maxClosureBlobs: 4096,
  /** Blobs in one REVOCATIONS message, either way (two per revocation). */
  maxRevocationBlobs: 2048,
  /** Bytes per revocation blob (a few tribles). */
  maxRevocationBlobBytes: 512,
  /** Revocation blobs one connection may send us in all (AUTH and REVOCATIONS); more close it. */
  maxRevocationBlobsPerConnection: 4096,
};

/** What an authenticated peer may read. `inScope` is only asked about blobs that are present. */
export interface Scope {
  inScope(hash: Hash, reader: BlobReader): boolean;
}

export interface AuthRequest {
  /** Handle of the peer's leaf capability sig blob. */
  capHandle: Hash;
  /** The peer's Ed25519 key, from the authenticated connection. */
  remoteKey: Uint8Array;
  /** Blobs of the capability chain sent along (v5 only; hashes verified). */
  chain: Uint8Array[];
  /** The peer's id, as text (for messages). */
  from?: string;
}

/** A refused AUTH, and why (sent to the peer as a reason code on v5). */
export interface Denied {
  refusal: Refusal;
}

export type AuthDecision = Scope | Denied | null;

export interface AccessPolicy {
  authorize(request: AuthRequest): Promise<AuthDecision> | AuthDecision;
  /** The verified capability chain blobs held for a key (served by CHAIN); none without it. */
  chainOf?(key: Uint8Array): Uint8Array[] | undefined;
  /** Every revocation blob known (served by REVOCATIONS). */
  revocationBlobs?(): Uint8Array[];
  /** Takes revocation blobs a peer sent (they are verified there). */
  learnRevocations?(blobs: Uint8Array[], from: string): unknown;
}

const isScope = (d: AuthDecision): d is Scope => d !== null && typeof (d as Scope).inScope === "function";

/** A policy that lets every authenticated connection read everything (tests, single-user setups). */
export const openPolicy: AccessPolicy = { authorize: () => ({ inScope: () => true }) };

export interface ServerEvents {
  /** `capHandle`: the capability presented (all zeros when the peer presented none); `refusal`: why not accepted. */
  onAuth?(remoteKey: Uint8Array, accepted: boolean, capHandle: Hash, refusal?: Refusal): void;
  onError?(remote: string, error: Error): void;
  /** After each authorized request: its op and how many hashes it named (1 for v4 ops). */
  onRequest?(op: number, hashes: number): void;
  /** An inbound connection closed for not authenticating in time, or to make room (admission.ts). */
  onStrangerClosed?(remote: string, reason: string): void;
}

export interface ServerOptions {
  /** v5 ops answered like unknown ones (the stream is aborted): lets tests play an older server. */
  withoutOps?: readonly number[];
  /**
   * Admits and delivers a head pushed by `pusher` (the connection's authenticated key, equal to the
   * frame's publisher); true when delivered. Without it every push is refused.
   */
  onPushedHead?(frame: HeadFrame, pusher: Uint8Array): boolean | Promise<boolean>;
  /** Limits on inbound connections that have not authenticated (admission.ts). */
  admission?: Partial<AdmissionLimits>;
  /** What one peer may make the server spend (budget.ts; defaults SERVER_BUDGET). */
  budget?: Partial<ServerBudget>;
  /** Bounds on an AUTH frame before it is verified (auth-frame.ts; defaults AUTH_LIMITS). */
  auth?: Partial<AuthLimits>;
}

interface Grant {
  scope: Scope;
  key: Uint8Array;
  connection: Connection;
}

export class SyncServer {
  /** What each open connection's successful AUTH granted, by connection id. */
  private readonly grants = new Map<string, Grant>();
  /** Revocation blobs received per connection (LIMITS.maxRevocationBlobsPerConnection). */
  private readonly revocationsReceived = new Map<string, number>();
  /** Each connection's turn-taking (budget.ts): one request computing per connection at a time. */
  private readonly lanes = new Map<string, Lane>();
  private readonly budget: ServerBudget;
  private readonly authLimits: AuthLimits;
  private readonly authReads: PerKeyCounter;
  private readonly admission: Admission;
  private readonly onClose = (evt: CustomEvent<Connection>) => {
    this.grants.delete(evt.detail.id);
    this.revocationsReceived.delete(evt.detail.id);
    this.lanes.delete(evt.detail.id);
  };

  constructor(
    private readonly node: Host,
    private readonly store: BlobStore & BranchStore,
    private readonly policy: AccessPolicy,
    private readonly events: ServerEvents = {},
    private readonly options: ServerOptions = {},
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
    await this.node.handle(PROTOCOL_V4, (stream: Stream, conn: Connection) => this.guard(stream, conn, () => this.serveV4(stream, conn)), v4);
    await this.node.handle(PROTOCOL_V5, (stream: Stream, conn: Connection) => this.guard(stream, conn, () => this.serveV5(stream, conn)), v5);
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
      void grant.connection.close().catch(() => grant.connection.abort(new Error("access ended")));
    }
    return closed;
  }

  /** AUTH: the reply to send (v5 says why it refuses). */
  private async authenticate(conn: Connection, capHandle: Hash, chain: Uint8Array[]): Promise<Denied | true | null> {
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

  /** Counts blobs that may be revocations against the connection's budget; false once it is spent. */
  private countRevocationBlobs(conn: Connection, n: number): boolean {
    const total = (this.revocationsReceived.get(conn.id) ?? 0) + n;
    this.revocationsReceived.set(conn.id, total);
    return total <= LIMITS.maxRevocationBlobsPerConnection;
  }

  private async authorize(request: AuthRequest): Promise<AuthDecision> {
    try {
      return await this.policy.authorize(request);
    } catch {
      return null;
    }
  }

  private scopeOf(conn: Connection): Scope | undefined {
    return this.grants.get(conn.id)?.scope;
  }

  private async serveV4(stream: Stream, conn: Connection): Promise<void> {
    const reader = new StreamReader(stream, { progressMs: this.budget.progressMs, idleMs: this.budget.frameMs, maxUnread: this.budget.maxUnreadBytes });
    reader.deadline(this.budget.frameMs);
    const op = await reader.readU8();
    const target = await reader.readExactly(32);
    reader.deadline(undefined);
    if (op === OP_AUTH) {
      const ok = (await this.authenticate(conn, target.slice(), [])) === true;
      await sendAll(stream, new Uint8Array([ok ? AUTH_OK : AUTH_REJECTED]));
      return;
    }
    const scope = this.scopeOf(conn);
    if (!scope) return; // unauthenticated: close with no response bytes
    if (op !== OP_GET_BLOB && op !== OP_CHILDREN) return; // unknown ops (including the retired 0x01 and 0x04): no response bytes
    const snapshot = this.store.reader();
    const out = new BufferedWriter(stream);
    const lane = this.laneOf(conn);
    await lane.run(async () => {
      const meter = new WorkMeter(stream, lane, this.budget.sliceBytes);
      if (op === OP_GET_BLOB) await meter.spend(this.writeBlob(out, snapshot, scope, target));
      else {
        for (const child of (await childrenMetered(snapshot, scope, target, false, meter)) ?? []) out.write(child);
        out.write(new Uint8Array(32));
      }
      await out.flush();
    });
    this.events.onRequest?.(op, 1);
  }

  /**
   * Serves one v5 stream: frames are read whole under a deadline (a peer that trickles or stalls
   * one is cut off), then answered on the connection's lane in metered slices (budget.ts).
   */
  private async serveV5(stream: Stream, conn: Connection): Promise<void> {
    const reader = new StreamReader(stream, { progressMs: this.budget.progressMs, maxUnread: this.budget.maxUnreadBytes });
    const out = new BufferedWriter(stream);
    const lane = this.laneOf(conn);
    const meter = new WorkMeter(stream, lane, this.budget.sliceBytes);
    // Between frames a member's stream may idle (a sync keeps it for hours); a stranger's
    // connection is closed by admission.ts before long.
    while (!(await reader.atEnd())) {
      reader.deadline(this.budget.frameMs);
      const op = await reader.readU8();
      if (this.options.withoutOps?.includes(op)) throw new ProtocolError(`unknown operation 0x${op.toString(16)}`);
      if (op === OP_AUTH) {
        const result = await this.serveAuth(reader, conn);
        await sendAll(stream, result === true ? new Uint8Array([AUTH_OK]) : encodeRefusal(result?.refusal));
        continue;
      }
      if (op === OP_REVOCATIONS) {
        await this.serveRevocations(reader, out, conn);
        continue;
      }
      if (op === OP_CHAIN) {
        const key = (await reader.readExactly(32)).slice();
        reader.deadline(undefined);
        if (!this.scopeOf(conn)) throw new ProtocolError("request before a successful AUTH");
        const chain = (this.policy.chainOf?.(key) ?? []).slice(0, LIMITS.maxAuthBlobs);
        writeBlobList(out, chain);
        await out.flush();
        this.events.onRequest?.(OP_CHAIN, 1);
        continue;
      }
      if (op === OP_HEADS) {
        reader.deadline(undefined);
        const scope = this.scopeOf(conn);
        if (!scope) throw new ProtocolError("request before a successful AUTH");
        this.writeHeads(out, scope);
        await out.flush();
        continue;
      }
      if (op === OP_CLOSURE) {
        await this.serveClosure(reader, out, conn, lane, meter);
        continue;
      }
      if (op === OP_PUSH_HEAD) {
        const frame = decodeHeadFrame(await reader.readExactly(HEAD_FRAME_LEN));
        reader.deadline(undefined);
        if (!frame) throw new ProtocolError("PUSH_HEAD without a HEAD frame");
        const accepted = await this.admitPushedHead(frame, conn);
        await sendAll(stream, new Uint8Array([accepted ? PUSH_ACCEPTED : PUSH_REFUSED]));
        if (accepted) this.events.onRequest?.(OP_PUSH_HEAD, 1);
        continue;
      }
      if (op !== OP_GET_BLOBS && op !== OP_CHILDREN_MANY) throw new ProtocolError(`unknown operation 0x${op.toString(16)}`);
      const count = await reader.readU32();
      if (count > LIMITS.maxBatch) throw new ProtocolError(`batch of ${count} hashes (limit ${LIMITS.maxBatch})`);
      const hashes = await reader.readExactly(count * 32);
      reader.deadline(undefined);
      const scope = this.scopeOf(conn);
      if (!scope) throw new ProtocolError("request before a successful AUTH");
      const targets = Array.from({ length: count }, (_, i) => hashes.subarray(i * 32, i * 32 + 32));
      await lane.run(() => (op === OP_GET_BLOBS ? this.serveBlobs(out, scope, targets, meter) : this.serveChildren(out, scope, targets, meter)));
      this.events.onRequest?.(op, count);
    }
  }

  /**
   * A v5 AUTH frame, read under its own deadline and size bounds (auth-frame.ts), with at most
   * this.budget.authStreamsPerConnection read at once per connection: before AUTH succeeds a
   * peer has proven nothing, so what it can make us buffer is kept small.
   */
  private async serveAuth(reader: StreamReader, conn: Connection): Promise<Denied | true | null> {
    if (!this.authReads.enter(conn.id)) throw new ProtocolError(`more than ${this.budget.authStreamsPerConnection} AUTH frames at once on one connection`);
    try {
      reader.deadline(this.budget.authFrameMs);
      const { capHandle, chain } = await readAuthFrame(reader, this.authLimits);
      reader.deadline(undefined);
      return await this.authenticate(conn, capHandle, chain);
    } finally {
      this.authReads.leave(conn.id);
    }
  }

  private async serveBlobs(out: BufferedWriter, scope: Scope, targets: Hash[], meter: WorkMeter): Promise<void> {
    const snapshot = this.store.reader();
    for (const target of targets) {
      await meter.spend(this.writeBlob(out, snapshot, scope, target));
      if (out.full) await out.flush();
    }
    await out.flush();
  }

  /**
   * CHILDREN_MANY: each distinct target is scanned once (a request naming one large blob
   * thousands of times costs one scan), in metered slices.
   */
  private async serveChildren(out: BufferedWriter, scope: Scope, targets: Hash[], meter: WorkMeter): Promise<void> {
    const snapshot = this.store.reader();
    // CHILDREN reads every target's bytes, usually for the first time (a fetch asks for a level's
    // children before its blobs): verify the small ones in one batch first.
    snapshot.checkMany(targets);
    const distinct = new HashIndex(Math.max(16, targets.length));
    const answers: (Uint8Array[] | null)[] = [];
    for (const target of targets) {
      const { entry, added } = distinct.insert(target);
      if (added) answers[entry] = await childrenMetered(snapshot, scope, target, true, meter);
      const children = answers[entry]!;
      out.writeU32(children ? children.length : ABSENT_PARENT);
      for (const child of children ?? []) out.write(child);
      await meter.spend(4 + (children?.length ?? 0) * 32);
      if (out.full) await out.flush();
    }
    await out.flush();
  }

  /** Only a peer whose AUTH succeeded on this connection may push, and only heads it published. */
  private async admitPushedHead(frame: HeadFrame, conn: Connection): Promise<boolean> {
    const pusher = peerPublicKey(conn.remotePeer);
    if (!this.options.onPushedHead || !pusher || !this.grants.has(conn.id) || !bytesEqual(pusher, frame.publisher)) return false;
    try {
      return await this.options.onPushedHead(frame, pusher);
    } catch {
      return false;
    }
  }

  /** REVOCATIONS: takes the client's (bounded, verified by the policy), answers with ours. */
  private async serveRevocations(reader: StreamReader, out: BufferedWriter, conn: Connection): Promise<void> {
    // Checked before the list is read: a peer without a grant makes us buffer nothing.
    if (!this.scopeOf(conn)) throw new ProtocolError("request before a successful AUTH");
    const blobs = await readBlobList(reader, LIMITS.maxRevocationBlobs, LIMITS.maxRevocationBlobBytes, "REVOCATIONS");
    reader.deadline(undefined);
    if (!this.countRevocationBlobs(conn, blobs.length)) throw new ProtocolError(`more than ${LIMITS.maxRevocationBlobsPerConnection} revocation blobs on one connection`);
    if (blobs.length) this.policy.learnRevocations?.(blobs, conn.remotePeer.toString());
    writeBlobList(out, (this.policy.revocationBlobs?.() ?? []).slice(-LIMITS.maxRevocationBlobs));
    await out.flush();
    this.events.onRequest?.(OP_REVOCATIONS, blobs.length);
  }

  private async serveClosure(reader: StreamReader, out: BufferedWriter, conn: Connection, lane: Lane, meter: WorkMeter): Promise<void> {
    const root = await reader.readExactly(32);
    const count = await reader.readU32();
    if (count > LIMITS.maxBatch) throw new ProtocolError(`CLOSURE with ${count} have-hashes (limit ${LIMITS.maxBatch})`);
    const haveBytes = await reader.readExactly(count * 32);
    const budget = await reader.readU32();
    reader.deadline(undefined);
    if (budget > LIMITS.maxClosureBytes) throw new ProtocolError(`CLOSURE budget of ${budget} bytes (limit ${LIMITS.maxClosureBytes})`);
    const scope = this.scopeOf(conn);
    if (!scope) throw new ProtocolError("request before a successful AUTH");
    await lane.run(async () => {
      const have = new HashIndex(Math.max(16, count));
      for (let i = 0; i < count; i++) have.insert(haveBytes.subarray(i * 32, i * 32 + 32));
      const snapshot = this.store.reader();
      // The walk is bounded by `budget` bytes and LIMITS.maxClosureBlobs blobs: one slice at most.
      const closure = missingClosure(snapshot, scope, root, have, budget) ?? [];
      await meter.spend(budget);
      for (const hash of closure) {
        const bytes = snapshot.get(hash)!;
        out.write(hash);
        out.writeU64(bytes.length);
        out.write(bytes);
        await meter.spend(bytes.length + 40);
        if (out.full) await out.flush();
      }
      out.write(CLOSURE_END);
      await out.flush();
    });
    this.events.onRequest?.(OP_CLOSURE, 1);
  }

  private writeHeads(out: BufferedWriter, scope: Scope): void {
    const snapshot = this.store.reader();
    const heads: Uint8Array[] = [];
    for (const id of this.store.branches()) {
      const head = this.store.head(id);
      if (head && snapshot.has(head) && scope.inScope(head, snapshot)) heads.push(id, head);
    }
    out.writeU32(heads.length / 2);
    for (const part of heads) out.write(part);
  }

  /** Writes one GET reply; returns the bytes it cost (read, hashed on a first read, and sent). */
  private writeBlob(out: BufferedWriter, snapshot: BlobReader, scope: Scope, target: Hash): number {
    const bytes = snapshot.has(target) && scope.inScope(target, snapshot) ? snapshot.get(target) : undefined;
    if (!bytes) {
      out.write(MISSING_LEN);
      return 8;
    }
    out.writeU64(bytes.length);
    out.write(bytes);
    return 8 + bytes.length;
  }
}

/** A list of blobs as REVOCATIONS and CHAIN carry them: count:u32 (len:u32 bytes)*count. */
export function writeBlobList(out: BufferedWriter, blobs: readonly Uint8Array[]): void {
  out.writeU32(blobs.length);
  for (const blob of blobs) {
    out.writeU32(blob.length);
    out.write(blob);
  }
}

/** Reads a blob list, bounding the count and each length before use. */
export async function readBlobList(reader: StreamReader, maxCount: number, maxBytes: number, what: string): Promise<Uint8Array[]> {
  const count = await reader.readU32();
  if (count > maxCount) throw new ProtocolError(`${what} carries ${count} blobs (limit ${maxCount})`);
  const blobs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = await reader.readU32();
    if (len > maxBytes) throw new ProtocolError(`${what} blob of ${len} bytes (limit ${maxBytes})`);
    blobs.push((await reader.readExactly(len)).slice());
  }
  return blobs;
}

/** Reused probe for `childrenOf`: most chunks are not hashes, so no view is made until one hits. */
const probe = new Uint8Array(32);
const probeWords = new Uint32Array(probe.buffer);

/**
 * Children of a blob: every 32-byte chunk at offsets 0, 32, 64, … that is the hash of a present,
 * in-scope blob (the reference's rule). Null when the parent is absent or out of scope.
 */
export function childrenOf(snapshot: BlobReader, scope: Scope, parent: Hash, dedupe: boolean): Uint8Array[] | null {
  if (!snapshot.has(parent) || !scope.inScope(parent, snapshot)) return null;
  const scan = new ChildScan(snapshot, scope, snapshot.get(parent)!, dedupe);
  scan.run(0, scan.bytes.length);
  return scan.out;
}

/**
 * `childrenOf` for a server answering a peer: the parent is scanned in slices of the meter's
 * size, so a large blob never holds the event loop, and the scan stops when its stream is gone.
 */
export async function childrenMetered(snapshot: BlobReader, scope: Scope, parent: Hash, dedupe: boolean, meter: WorkMeter): Promise<Uint8Array[] | null> {
  if (!snapshot.has(parent) || !scope.inScope(parent, snapshot)) return null;
  const scan = new ChildScan(snapshot, scope, snapshot.get(parent)!, dedupe);
  const length = scan.bytes.length;
  await meter.spend(length); // reading it (and hashing it, the first time) costs as much as a scan
  for (let at = 0; at < length; at += meter.sliceBytes) {
    const end = Math.min(length, at + meter.sliceBytes);
    scan.run(at, end);
    await meter.spend(end - at);
  }
  return scan.out;
}

/** The children scan of one parent, resumable at any multiple of 32 bytes. */
class ChildScan {
  readonly out: Uint8Array[] = [];
  private seen: HashIndex | null = null;
  /** The parent as 32-bit words when it is 4-byte aligned (it usually is): chunks copy as eight words. */
  private readonly words: Uint32Array | null;

  constructor(
    private readonly snapshot: BlobReader,
    private readonly scope: Scope,
    readonly bytes: Uint8Array,
    private readonly dedupe: boolean,
  ) {
    this.words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
  }

  /** Scans the chunks starting in [from, to); `from` is a multiple of 32. */
  run(from: number, to: number): void {
    const { bytes, words, snapshot, scope, out } = this;
    for (let at = from; at < to && at + 32 <= bytes.length; at += 32) {
      if (words) for (let k = 0, w = at >>> 2; k < 8; k++) probeWords[k] = words[w + k]!;
      else probe.set(bytes.subarray(at, at + 32));
      if (!snapshot.has(probe)) continue;
      const chunk = bytes.subarray(at, at + 32);
      if (!scope.inScope(chunk, snapshot)) continue;
      if (this.dedupe && out.length > 0) {
        if (!this.seen) {
          this.seen = new HashIndex(16);
          for (const c of out) this.seen.insert(c);
        }
        if (!this.seen.insert(chunk).added) continue;
      }
      out.push(chunk);
    }
  }
}

/** Ends a CLOSURE reply: a zero hash with the all-ones length. */
export const CLOSURE_END = new Uint8Array([...new Uint8Array(32), ...MISSING_LEN]);

/**
 * The closure of `root` as OP_CLOSURE sends it: present, in-scope blobs (children by `childrenOf`)
 * not under a `have` hash, each once, children before parents. Null when the root is absent or out
 * of scope, or when the closure holds more than `budget` bytes or LIMITS.maxClosureBlobs blobs (the
 * walk stops there, so its work is bounded by both).
 */
export function missingClosure(snapshot: BlobReader, scope: Scope, root: Hash, have: HashIndex, budget: number): Hash[] | null {
  if (have.find(root) >= 0) return [];
  const nodes = new HashIndex(64);
  nodes.insert(root);
  const children: number[][] = [];
  let bytes = 0;
  // Level by level, so each level's blobs are verified in one hashing batch (see CHILDREN_MANY).
  let frontier = [0];
  while (frontier.length) {
    snapshot.checkMany(frontier.map((e) => nodes.keyAt(e)));
    const next: number[] = [];
    for (const entry of frontier) {
      const parent = nodes.keyAt(entry);
      // Sized before its children are scanned: a blob over the budget is never read through.
      bytes += snapshot.sizeOf?.(parent) ?? snapshot.get(parent)?.length ?? 0;
      if (bytes > budget) return null;
      const kids = childrenOf(snapshot, scope, parent, true);
      if (!kids) return null; // only the root can be absent: children are present by definition
      const entries: number[] = [];
      for (const kid of kids) {
        if (have.find(kid) >= 0) continue;
        const { entry: kidEntry, added } = nodes.insert(kid);
        if (nodes.size > LIMITS.maxClosureBlobs) return null;
        entries.push(kidEntry);
        if (added) next.push(kidEntry);
      }
      children[entry] = entries;
    }
    frontier = next;
  }
  return postOrder(children, nodes.size).map((e) => nodes.keyAt(e));
}

/** Entries in an order where every entry comes after all its children (iterative DFS from entry 0). */
export function postOrder(children: number[][], count: number): number[] {
  const out: number[] = [];
  const state = new Uint8Array(count); // 0 new, 1 open, 2 done
  const stack: number[] = [0];
  while (stack.length) {
    const e = stack[stack.length - 1]!;
    if (state[e] === 0) {
      state[e] = 1;
      for (const c of children[e] ?? []) if (state[c] === 0) stack.push(c);
    } else {
      stack.pop();
      if (state[e] === 1) {
        state[e] = 2;
        out.push(e);
      }
    }
  }
  return out;
}

/** True when `bytes` hash to `expected`. */
export function blobMatches(bytes: Uint8Array, expected: Hash): boolean {
  return bytesEqual(blake3(bytes), expected);
}

/** `limits` without its undefined entries (so they do not override the defaults). */
function definedOnly<T extends object>(limits: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
