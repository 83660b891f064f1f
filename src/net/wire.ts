/**
 * pile-sync's wire format, shared by client and server: protocol ids, op codes, status bytes,
 * size limits and the codecs of the frames both sides read. Two protocol versions:
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
 */
import { AUTH_LIMITS } from "./auth-frame.ts";
import { AUTH_OK, AUTH_REJECTED } from "./auth-reply.ts";
import { type BufferedWriter, MISSING_LEN, ProtocolError, type StreamReader } from "./stream-io.ts";
import { PROTOCOL_V4, PROTOCOL_V5 } from "./versions.ts";

export { AUTH_OK, AUTH_REJECTED, PROTOCOL_V4, PROTOCOL_V5 };

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

/** Ends a CLOSURE reply: a zero hash with the all-ones length. */
export const CLOSURE_END = new Uint8Array([...new Uint8Array(32), ...MISSING_LEN]);

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
