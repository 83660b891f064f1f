/** What every op handler gets: the server's shared state (`ServerContext`) and the request's stream (`V5Request`). */
import type { Connection, Stream } from "@libp2p/interface";
import type { BlobReader, BlobStore, BranchStore, Hash } from "../../core/store.ts";
import type { AuthLimits } from "../auth-frame.ts";
import type { Lane, PerKeyCounter, ServerBudget, WorkMeter } from "../budget.ts";
import { type BufferedWriter, MISSING_LEN, ProtocolError, type StreamReader } from "../stream-io.ts";
import { LIMITS } from "../wire.ts";
import type { AccessPolicy, Denied, Scope, ServerEvents, ServerOptions } from "./policy.ts";

export interface ServerContext {
  readonly store: BlobStore & BranchStore;
  readonly policy: AccessPolicy;
  readonly events: ServerEvents;
  readonly options: ServerOptions;
  readonly budget: ServerBudget;
  readonly authLimits: AuthLimits;
  /** v5 AUTH frames being read per connection (budget.authStreamsPerConnection). */
  readonly authReads: PerKeyCounter;
  /** The scope the connection's successful AUTH granted, if any. */
  scopeOf(conn: Connection): Scope | undefined;
  /** The connection's scope; throws ProtocolError when no AUTH on it succeeded. */
  requireScope(conn: Connection): Scope;
  /** AUTH: grants a scope on success; the reply to send (v5 says why it refuses). */
  authenticate(conn: Connection, capHandle: Hash, chain: Uint8Array[]): Promise<Denied | true | null>;
  /** Counts blobs that may be revocations against the connection's budget; false once it is spent. */
  countRevocationBlobs(conn: Connection, n: number): boolean;
}

/** One v5 frame being served: its op byte has been read, the rest is the handler's to read. */
export interface V5Request {
  readonly stream: Stream;
  readonly conn: Connection;
  readonly reader: StreamReader;
  readonly out: BufferedWriter;
  /** The connection's turn-taking (budget.ts): one request computing per connection at a time. */
  readonly lane: Lane;
  readonly meter: WorkMeter;
}

export type V5Handler = (ctx: ServerContext, req: V5Request) => Promise<void>;

/** The error of a request on a connection without a grant. */
export function notAuthenticated(): ProtocolError {
  return new ProtocolError("request before a successful AUTH");
}

/** Reads a batch's hashes (count:u32 hash[32]*count), bounding the count first. */
export async function readHashBatch(reader: StreamReader): Promise<Hash[]> {
  const count = await reader.readU32();
  if (count > LIMITS.maxBatch) throw new ProtocolError(`batch of ${count} hashes (limit ${LIMITS.maxBatch})`);
  const hashes = await reader.readExactly(count * 32);
  return Array.from({ length: count }, (_, i) => hashes.subarray(i * 32, i * 32 + 32));
}

/** Writes one GET reply; returns the bytes it cost (read, hashed on a first read, and sent). */
export function writeBlob(out: BufferedWriter, snapshot: BlobReader, scope: Scope, target: Hash): number {
  const bytes = snapshot.has(target) && scope.inScope(target, snapshot) ? snapshot.get(target) : undefined;
  if (!bytes) {
    out.write(MISSING_LEN);
    return 8;
  }
  out.writeU64(bytes.length);
  out.write(bytes);
  return 8 + bytes.length;
}
