/**
 * pile-sync client over the batched protocol (v5): one stream per connection, requests pipelined,
 * responses parsed strictly in request order. Every received length is bounded, every blob is
 * checked against its hash by the caller before it is stored.
 */
import { type Connection, isPeerId, type PeerId, type Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Hash } from "../core/store.ts";
import type { Host } from "./host.ts";
import { describeRefusal, type Refusal } from "../auth/refusal.ts";
import { isZero } from "../core/bytes.ts";
import { noteTransient } from "../core/gc-pacer.ts";
import { decodeRefusal, hasReasonTail } from "./auth-reply.ts";
import { ABSENT_PARENT, AUTH_OK, LIMITS, OP_AUTH, OP_CHAIN, OP_CHILDREN_MANY, OP_CLOSURE, OP_GET_BLOBS, OP_HEADS, OP_PUSH_HEAD, OP_REVOCATIONS, PROTOCOL_V5, PUSH_ACCEPTED, readBlobList } from "./wire.ts";
import { ProtocolError, StreamReader, u32 } from "./stream-io.ts";
import { type ByteBudget, DEFAULT_IDLE_MS } from "./fetch-budget.ts";
import { IdleWatchdog } from "./idle-watchdog.ts";
import { connectionPath, onlyRelayed } from "./relay.ts";

/** A value now, or later: response parsers stay synchronous while the bytes are already buffered. */
type Maybe<T> = T | Promise<T>;

/** The peer refused our capability; `refusal` says why when the peer told us (v5 servers do). */
export class AuthRejectedError extends Error {
  constructor(
    readonly peer: string,
    readonly refusal?: Refusal,
  ) {
    super(`peer ${peer} refused our capability${refusal ? `: ${describeRefusal(refusal)}` : " (it gave no reason)"}`);
    this.name = "AuthRejectedError";
  }
}

/** The peer sent no byte for `ms` while a reply was due: its requests fail and its connection is closed. */
export class StalledPeerError extends Error {
  constructor(peer: string, ms: number) {
    super(`peer ${peer} sent nothing for ${ms} ms while a reply was due; dropped it (a slow link needs a longer --idle-timeout / idleMs)`);
    this.name = "StalledPeerError";
  }
}

/**
 * The peer became reachable over a direct connection while this client ran on a relayed one: its
 * requests fail with this and are made again on the direct connection (node/direct-path.ts).
 */
export class MovedToDirectError extends Error {
  constructor(peer: string) {
    super(`peer ${peer} is reachable directly now; requests on its relayed connection are made again there`);
    this.name = "MovedToDirectError";
  }
}

export interface ClientOptions {
  /**
   * Fail every waiting request when the peer sends no byte for this long while a reply is due
   * (AUTH included); default DEFAULT_IDLE_MS. Progress, not total time, counts: a large transfer
   * that keeps moving never trips it.
   */
  idleMs?: number;
}

/** What a node presents on connecting: its capability's handle and chain. */
export interface Credentials {
  capHandle: Hash;
  /** Blobs of our capability chain, sent with AUTH so the server can verify it. */
  chain: Uint8Array[];
}

/** One blob of a CLOSURE reply, as received (unverified). */
export interface ReceivedBlob {
  hash: Hash;
  bytes: Uint8Array;
}

/** Pushes a client leaves unanswered at once; more are skipped (gossip still carries them). */
const MAX_PENDING_PUSHES = 16;

/**
 * What became of a pushed head: the peer's answer; "failed" when the peer predates PUSH_HEAD or
 * did not answer in time (the client pushes no more); "skipped" when not sent (pushing stopped,
 * or too many pushes unanswered).
 */
export type PushResult = "accepted" | "refused" | "failed" | "skipped";

/** A further v5 stream (for CLOSURE or PUSH_HEAD), pipelined like the main one. */
interface SideStream {
  stream: Stream;
  reader: StreamReader;
  responses: Promise<unknown>;
}

export class SyncClient {
  /** Round trips made for fetches (a pipelined batch counts once per request frame; pushes are not counted). */
  requests = 0;
  private readonly reader: StreamReader;
  private responses: Promise<unknown> = Promise.resolve();
  /**
   * CLOSURE goes on a stream of its own (AUTH grants hold per connection, so it needs none): a
   * server that predates the op aborts that stream, and the main one keeps serving.
   */
  private closureStream: Promise<SideStream> | undefined;
  /** False once a CLOSURE request failed: the peer is not asked again on this client. */
  closureSupported = true;
  /** REVOCATIONS and CHAIN share a stream of their own, for the same reason as CLOSURE's. */
  private controlStream: Promise<SideStream> | undefined;
  /** PUSH_HEAD's own stream, for the same reason as CLOSURE's. */
  private pushStream: Promise<SideStream> | undefined;
  /** The push stream once open, so a push needs no wait. */
  private pushChannel: SideStream | undefined;
  /** False once a push failed or went unanswered: the peer learns our heads by gossip only. */
  pushSupported = true;
  private pendingPushes = 0;

  /** The remote's PeerId, as text (for messages). */
  readonly peer: string;
  /** Watches every awaited reply on this client's streams (see ClientOptions.idleMs). */
  private readonly watchdog: IdleWatchdog;
  /**
   * Set once a reply failed (the peer stalled, broke the protocol or overran a budget): the stream
   * is out of step from there, so it is aborted and every request fails with this from then on.
   */
  private failure: Error | undefined;

  private constructor(
    private readonly connection: Connection,
    private readonly stream: Stream,
    idleMs: number,
  ) {
    this.peer = connection.remotePeer.toString();
    this.watchdog = new IdleWatchdog(idleMs, () => this.stalled());
    this.reader = new StreamReader(this.watchdog.track(stream));
  }

  /** Opens the sync stream and authenticates; throws AuthRejectedError if the peer refuses. */
  static async connect(node: Host, peer: PeerId | Multiaddr, credentials: Credentials, signal?: AbortSignal, clientOptions: ClientOptions = {}): Promise<SyncClient> {
    const options = signal ? { signal } : {};
    // libp2p's dial skips limited (relayed) connections and would open one more relayed connection
    // on each call: when only relayed ones are open, one is reused (relay.ts, onlyRelayed).
    const connection = (isPeerId(peer) ? onlyRelayed(node, peer) : undefined) ?? (await node.dial(peer, options));
    // A relayed connection is limited (relay.ts); it carries pile-sync when it is all there is.
    const client = new SyncClient(connection, await connection.newStream(PROTOCOL_V5, { ...options, runOnLimitedConnection: true }), clientOptions.idleMs ?? DEFAULT_IDLE_MS);
    const frame = [new Uint8Array([OP_AUTH]), credentials.capHandle, u32(credentials.chain.length)];
    for (const blob of credentials.chain) frame.push(u32(blob.length), blob);
    client.send(concat(frame));
    const reply = await client.enqueue(async () => {
      const status = await client.reader.readU8();
      return { status, tail: hasReasonTail(status) ? await client.reader.readExactly(8) : undefined };
    });
    if (reply.status !== AUTH_OK) {
      await client.close();
      throw new AuthRejectedError(client.peer, decodeRefusal(reply.status, reply.tail));
    }
    return client;
  }

  private send(frame: Uint8Array): void {
    if (this.failure) throw this.failure;
    this.requests++;
    this.stream.send(frame);
  }

  private enqueue<T>(parse: () => Promise<T>): Promise<T> {
    const result = this.watchdog.watch(() => this.responses.then(parse)).catch((err) => {
      if (!this.failure) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.stream.abort(this.failure);
      }
      throw this.failure;
    });
    this.responses = result.catch(() => undefined);
    return result;
  }

  /** The peer went silent with replies due: fail them all, naming the peer, and close the connection. */
  private stalled(): void {
    const error = new StalledPeerError(this.peer, this.watchdog.idleMs);
    this.failure ??= error;
    this.abort(error.message, true);
  }

  /**
   * Children (present, in-scope 32-byte references, de-duplicated) of each parent, in order; null
   * where the peer lacks the parent or may not share it.
   */
  async children(parents: Hash[], budget?: ByteBudget): Promise<(Hash[] | null)[]> {
    return (await this.childrenPacked(parents, budget)).map((list) => list && split(list, list.length / 32));
  }

  /**
   * `children`, each list as one array of 32-byte hashes end to end (no object per hash). Each
   * list's bytes are reserved in `budget` before they are read (the caller releases them once it
   * has used the lists; a failed call releases its own).
   */
  childrenPacked(parents: Hash[], budget?: ByteBudget): Promise<(Uint8Array | null)[]> {
    const reader = this.reader;
    let reserved = 0;
    const list = (n: number): Maybe<Uint8Array | null> => {
      if (n === ABSENT_PARENT) return null;
      if (n > LIMITS.maxChildren) throw new ProtocolError(`peer ${this.peer} sent ${n} children for one blob`);
      budget?.reserve(n * 32, this.peer);
      reserved += n * 32;
      return reader.take(n * 32) ?? reader.readExactly(n * 32);
    };
    const lists = this.batched(parents, OP_CHILDREN_MANY, () => {
      const n = reader.takeU32();
      return n === undefined ? reader.readU32().then(list) : list(n);
    });
    return budget ? releasedOnFailure(lists, budget, () => reserved) : lists;
  }

  /** The peer's branches (id, branch-metadata handle) that we may read. */
  heads(): Promise<{ branchId: Uint8Array; head: Hash }[]> {
    this.send(new Uint8Array([OP_HEADS]));
    return this.enqueue(async () => {
      const n = await this.reader.readU32();
      if (n > LIMITS.maxBatch * 16) throw new ProtocolError(`peer ${this.peer} listed ${n} branches`);
      const bytes = await this.reader.readExactly(n * 48);
      const out: { branchId: Uint8Array; head: Hash }[] = [];
      for (let i = 0; i < n; i++) out.push({ branchId: bytes.slice(i * 48, i * 48 + 16), head: bytes.slice(i * 48 + 16, i * 48 + 48) });
      return out;
    });
  }

  /**
   * Bytes of each blob, or null where the peer does not have it (or may not share it). Unverified.
   * Each blob's bytes are reserved in `budget` before they are read (see `children`).
   */
  getBlobs(hashes: Hash[], budget?: ByteBudget): Promise<(Uint8Array | null)[]> {
    return this.blobReply(hashes, budget, (blob) => blob, true);
  }

  /**
   * `getBlobs`, each blob handed to `onBlob(k, bytes)` as soon as it is read (k indexes `hashes`)
   * and not kept: a reply of many large blobs is never held whole here. Resolves once the reply is
   * complete. A handed blob's bytes stay reserved in `budget` until the caller releases them; a
   * failed reply releases only those of the blob being read.
   */
  async streamBlobs(hashes: Hash[], budget: ByteBudget | undefined, onBlob: (k: number, blob: Uint8Array | null) => void): Promise<void> {
    let k = 0;
    await this.blobReply(
      hashes,
      budget,
      (blob) => {
        onBlob(k++, blob);
        return null;
      },
      false,
    );
  }

  /**
   * Sends GET_BLOBS for `hashes` and reads its reply, passing each blob (or null) through `each`
   * as it is read. With `keepReserved`, a failed reply releases every byte it reserved (the blobs
   * read so far are dropped with it); without, only those not yet passed on.
   */
  private blobReply<T>(hashes: Hash[], budget: ByteBudget | undefined, each: (blob: Uint8Array | null) => T, keepReserved: boolean): Promise<T[]> {
    const reader = this.reader;
    let reserved = 0;
    // The reader's chunks are private copies, so the returned views are ours to keep.
    const body = (len: number): Maybe<T> => {
      if (len < 0) return each(null);
      budget?.reserve(len, this.peer);
      reserved += len;
      // Received bytes are garbage once stored, and so are the transport's buffers they came
      // through: the pacer looks at resident memory as they arrive (gc-pacer.ts).
      noteTransient(len);
      const passOn = (blob: Uint8Array) => {
        if (!keepReserved) reserved -= len;
        return each(blob);
      };
      const ready = reader.take(len);
      return ready ? passOn(ready) : reader.readExactly(len).then(passOn);
    };
    const blobs = this.batched(hashes, OP_GET_BLOBS, () => {
      const len = reader.takeLength(LIMITS.maxBlobBytes);
      return len === undefined ? reader.readU64Length(LIMITS.maxBlobBytes).then(body) : body(len);
    });
    return budget ? releasedOnFailure(blobs, budget, () => reserved) : blobs;
  }

  private async batched<T>(hashes: Hash[], op: number, parseOne: () => Maybe<T>): Promise<T[]> {
    const parts: Promise<T[]>[] = [];
    for (let start = 0; start < hashes.length; start += LIMITS.maxBatch) {
      const slice = hashes.slice(start, start + LIMITS.maxBatch);
      const frame = new Uint8Array(5 + slice.length * 32);
      frame[0] = op;
      frame.set(u32(slice.length), 1);
      for (const [i, h] of slice.entries()) frame.set(h, 5 + i * 32);
      this.send(frame);
      parts.push(
        this.enqueue(async () => {
          const out: T[] = [];
          for (let i = 0; i < slice.length; i++) {
            const next = parseOne();
            out.push(next instanceof Promise ? await next : next);
          }
          return out;
        }),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  /**
   * OP_CLOSURE: the blobs of `root`'s closure the peer holds, minus everything under `have`, in the
   * order received (unverified; the peer promises children before parents). At most `budget` bytes
   * (a larger closure comes back empty). Null when the request failed for any reason (a peer
   * without the op aborts the stream): the caller falls back to the level-by-level fetch, and
   * `closureSupported` turns false.
   */
  async closure(root: Hash, have: Hash[], budget: number): Promise<ReceivedBlob[] | null> {
    if (!this.closureSupported) return null;
    if (have.length > LIMITS.maxBatch || budget > LIMITS.maxClosureBytes) throw new RangeError("CLOSURE request over the protocol's limits");
    const frame = new Uint8Array(1 + 32 + 4 + have.length * 32 + 4);
    frame[0] = OP_CLOSURE;
    frame.set(root, 1);
    frame.set(u32(have.length), 33);
    have.forEach((h, i) => {
      frame.set(h, 37 + i * 32);
    });
    frame.set(u32(budget), 37 + have.length * 32);
    try {
      this.closureStream ??= this.openSideStream();
      const channel = await this.closureStream;
      this.requests++;
      channel.stream.send(frame);
      const reply = this.watchdog.watch(() => channel.responses.then(() => this.readClosure(channel.reader, budget)));
      channel.responses = reply.catch(() => undefined);
      return await reply;
    } catch {
      this.disableClosure();
      return null;
    }
  }

  /**
   * OP_REVOCATIONS: hands the peer our revocation blobs (at most LIMITS.maxRevocationBlobs, the
   * newest) and returns the peer's (unverified). Null when the peer predates the op or failed.
   */
  async revocations(ours: readonly Uint8Array[]): Promise<Uint8Array[] | null> {
    const sent = ours.slice(-LIMITS.maxRevocationBlobs);
    const parts = [new Uint8Array([OP_REVOCATIONS]), u32(sent.length)];
    for (const blob of sent) parts.push(u32(blob.length), blob);
    return this.control(concat(parts), (reader) => readBlobList(reader, LIMITS.maxRevocationBlobs, LIMITS.maxRevocationBlobBytes, `peer ${this.peer}'s REVOCATIONS`));
  }

  /** OP_CHAIN: the capability chain blobs the peer holds for `key` (unverified; empty: none). Null on failure. */
  async chainOf(key: Uint8Array): Promise<Uint8Array[] | null> {
    const frame = new Uint8Array(33);
    frame[0] = OP_CHAIN;
    frame.set(key, 1);
    return this.control(frame, (reader) => readBlobList(reader, LIMITS.maxAuthBlobs, LIMITS.maxAuthBlobBytes, `peer ${this.peer}'s CHAIN`));
  }

  private async control<T>(frame: Uint8Array, parse: (reader: StreamReader) => Promise<T>): Promise<T | null> {
    try {
      this.controlStream ??= this.openSideStream();
      const channel = await this.controlStream;
      channel.stream.send(frame);
      const reply = channel.responses.then(() => parse(channel.reader));
      channel.responses = reply.catch(() => undefined);
      return await reply;
    } catch {
      return null;
    }
  }

  private openSideStream(): Promise<SideStream> {
    if (this.failure) return Promise.reject(this.failure);
    return this.connection.newStream(PROTOCOL_V5, { runOnLimitedConnection: true }).then((stream) => ({ stream, reader: new StreamReader(this.watchdog.track(stream)), responses: Promise.resolve() }));
  }

  /**
   * OP_PUSH_HEAD: offers the peer an encoded HEAD frame (gossip.ts) that we published. Never
   * rejects and never waits longer than `timeoutMs`: a peer that fails or stalls a push gets no more.
   */
  pushHead(frame: Uint8Array, timeoutMs: number): Promise<PushResult> {
    if (!this.pushSupported || this.pendingPushes >= MAX_PENDING_PUSHES) return Promise.resolve("skipped");
    this.pendingPushes++;
    const request = new Uint8Array(1 + frame.length);
    request[0] = OP_PUSH_HEAD;
    request.set(frame, 1);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("PUSH_HEAD unanswered")), timeoutMs);
    });
    let reply: Promise<number>;
    try {
      // Once its stream is open a push is written before this returns, so what the caller does
      // next (gossip signs its message) cannot delay it.
      if (this.pushChannel) reply = this.requestPush(this.pushChannel, request);
      else {
        this.pushStream ??= this.openSideStream().then((channel) => (this.pushChannel = channel));
        reply = this.pushStream.then((channel) => this.requestPush(channel, request));
      }
    } catch (err) {
      reply = Promise.reject(err);
    }
    return Promise.race([reply, expired])
      .then(
        (status): PushResult => (status === PUSH_ACCEPTED ? "accepted" : "refused"),
        (): PushResult => {
          this.disablePush();
          return "failed";
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.pendingPushes--;
      });
  }

  private requestPush(channel: SideStream, request: Uint8Array): Promise<number> {
    channel.stream.send(request);
    const reply = channel.responses.then(() => channel.reader.readU8());
    channel.responses = reply.catch(() => undefined);
    return reply;
  }

  private disablePush(): void {
    this.pushSupported = false;
    void this.pushStream?.then((c) => c.stream.abort(new Error("PUSH_HEAD abandoned"))).catch(() => undefined);
  }

  private async readClosure(reader: StreamReader, budget: number): Promise<ReceivedBlob[]> {
    const blobs: ReceivedBlob[] = [];
    let total = 0;
    for (;;) {
      const hash = await reader.readExactly(32);
      const len = await reader.readU64Length(budget);
      if (len < 0) {
        if (!isZero(hash)) throw new ProtocolError(`peer ${this.peer} sent a CLOSURE record without a length`);
        return blobs;
      }
      total += len;
      if (total > budget) throw new ProtocolError(`peer ${this.peer} sent more than the ${budget} bytes asked for`);
      if (blobs.length >= LIMITS.maxClosureBlobs) throw new ProtocolError(`peer ${this.peer} sent more than ${LIMITS.maxClosureBlobs} CLOSURE blobs`);
      blobs.push({ hash, bytes: await reader.readExactly(len) });
    }
  }

  /** Stops asking this peer for closures (it failed one, or a caller gave up waiting on one). */
  disableClosure(): void {
    this.closureSupported = false;
    void this.closureStream?.then((c) => c.stream.abort(new Error("CLOSURE abandoned"))).catch(() => undefined);
  }

  /** Whether this client's connection goes through a relay. */
  get relayed(): boolean {
    return connectionPath(this.connection).path === "relayed";
  }

  /**
   * Leaves the relay: every request waiting, and any made later, fails with MovedToDirectError
   * (the caller makes it again on a new client, over the direct connection), and this client's
   * streams are reset so that the peer stops sending on the relayed connection.
   */
  moveToDirect(): void {
    if (this.failure) return;
    this.failure = new MovedToDirectError(this.peer);
    this.abort(this.failure.message);
  }

  /** Whether requests can still be sent: the connection and the sync stream are both open. */
  get isOpen(): boolean {
    return !this.failure && this.connection.status === "open" && this.stream.status === "open" && this.stream.writeStatus === "writable";
  }

  async close(): Promise<void> {
    this.watchdog.stop();
    for (const side of [this.closureStream, this.pushStream, this.controlStream]) void side?.then((c) => c.stream.close()).catch(() => undefined);
    try {
      await this.stream.close();
    } catch {
      this.stream.abort(new Error("closed"));
    }
  }

  /** Aborts the sync stream; with `wholeConnection`, the connection too (a peer that went silent). */
  abort(reason: string, wholeConnection = false): void {
    this.stream.abort(new Error(reason));
    for (const side of [this.closureStream, this.pushStream, this.controlStream]) void side?.then((c) => c.stream.abort(new Error(reason))).catch(() => undefined);
    if (wholeConnection) this.connection.abort(new Error(reason));
  }
}

/** `reply`, with the bytes it reserved in `budget` given back if it fails (its partial data is dropped). */
function releasedOnFailure<T>(reply: Promise<T>, budget: ByteBudget, reserved: () => number): Promise<T> {
  return reply.catch((err) => {
    budget.release(reserved());
    throw err;
  });
}

function split(bytes: Uint8Array, n: number): Hash[] {
  const out: Hash[] = [];
  for (let i = 0; i < n; i++) out.push(bytes.slice(i * 32, i * 32 + 32));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
