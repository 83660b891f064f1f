/**
 * Fetches the missing part of a head's closure from a peer.
 *
 * 1. Discover: walk CHILDREN level by level (one pipelined request per level, so round trips grow
 *    with the DAG's depth, not its size), skipping blobs we already hold: a stored blob implies
 *    its whole closure is stored.
 * 2. Download in post-order (children before parents), pipelined in batches; verify every blob's
 *    BLAKE3 before storing it. An interrupted fetch therefore leaves only complete sub-closures
 *    behind and the next fetch resumes where it stopped.
 * A peer that sends bytes not matching their hash is dropped for this fetch; nothing of its bad
 * data is stored.
 */
import { hashMany } from "../core/blake3.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import { HashIndex } from "../core/hash-index.ts";
import type { BlobStore, BlobStorePut, Hash } from "../core/store.ts";
import type { SyncClient } from "./client.ts";

export class BadDataError extends Error {
  constructor(peer: string, hash: Hash) {
    super(`peer ${peer} sent bytes that do not match blob ${toHex(hash)}; dropped it for this fetch`);
    this.name = "BadDataError";
  }
}

export class MissingBlobError extends Error {
  constructor(peer: string, hash: Hash) {
    super(`peer ${peer} does not have (or will not share) blob ${toHex(hash)}`);
    this.name = "MissingBlobError";
  }
}

export interface FetchProgress {
  /** Blobs known to be missing so far (grows during discovery). */
  discovered: number;
  stored: number;
  bytes: number;
}

export interface FetchSummary {
  blobs: number;
  bytes: number;
  /** Request frames sent (each is one round trip when not pipelined). */
  requests: number;
  /** Depth of the missing part of the DAG (CHILDREN round trips). */
  depth: number;
  ms: number;
}

export interface FetchOptions {
  /** Most hashes per GET_BLOBS request. */
  batch?: number;
  /** Aim for about this many bytes per GET_BLOBS request. */
  batchBytes?: number;
  /** GET_BLOBS requests in flight at once. */
  window?: number;
  onProgress?: (p: FetchProgress) => void;
}

export async function fetchClosure(client: SyncClient, head: Hash, store: BlobStore & BlobStorePut, opts: FetchOptions = {}): Promise<FetchSummary> {
  const started = performance.now();
  const requestsBefore = client.requests;
  const local = store.reader();
  const summary: FetchSummary = { blobs: 0, bytes: 0, requests: 0, depth: 0, ms: 0 };
  if (local.has(head)) return finish();

  // Discover the missing DAG; entries are numbered in discovery order, children kept per entry.
  const nodes = new HashIndex(1024);
  const children: number[][] = [];
  nodes.insert(head);
  let frontier: number[] = [0];
  const progress: FetchProgress = { discovered: 1, stored: 0, bytes: 0 };
  while (frontier.length) {
    summary.depth++;
    const lists = await client.children(frontier.map((e) => nodes.keyAt(e).slice()));
    const next: number[] = [];
    frontier.forEach((parent, i) => {
      const kids: number[] = [];
      for (const child of lists[i]!) {
        if (local.has(child)) continue;
        const { entry, added } = nodes.insert(child);
        kids.push(entry);
        if (added) next.push(entry);
      }
      children[parent] = kids;
    });
    frontier = next;
    progress.discovered = nodes.size;
    opts.onProgress?.(progress);
  }

  const order = postOrder(children, nodes.size);
  // Batches are sized by bytes seen so far (about 1 MiB each), so small blobs travel many to a
  // request and large ones few, and storing one batch overlaps with receiving the next.
  const targetBatchBytes = opts.batchBytes ?? 1 << 20;
  const window = opts.window ?? 8;
  let next = 0;
  let avgSize = 64 * 1024; // unknown until the first reply: start with a small batch
  const inFlight: { hashes: Hash[]; reply: Promise<(Uint8Array | null)[]> }[] = [];
  const request = () => {
    const size = Math.max(1, Math.min(opts.batch ?? 1024, Math.floor(targetBatchBytes / avgSize)));
    const hashes = order.slice(next, next + size).map((e) => nodes.keyAt(e).slice());
    next += hashes.length;
    inFlight.push({ hashes, reply: client.getBlobs(hashes) });
  };
  while (next < order.length || inFlight.length) {
    while (next < order.length && inFlight.length < window) request();
    const { hashes: wanted, reply } = inFlight.shift()!;
    const blobs = await reply;
    const present: Uint8Array[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const blob = blobs[i];
      if (!blob) throw new MissingBlobError(client.peer, wanted[i]!);
      present.push(blob);
    }
    const hashes = hashMany(present);
    for (let i = 0; i < wanted.length; i++) if (!bytesEqual(hashes[i]!, wanted[i]!)) throw new BadDataError(client.peer, wanted[i]!);
    store.putMany(present);
    let batchBytes = 0;
    for (const blob of present) batchBytes += blob.length;
    avgSize = Math.max(64, batchBytes / Math.max(1, present.length));
    summary.bytes += batchBytes;
    summary.blobs += present.length;
    progress.stored = summary.blobs;
    progress.bytes = summary.bytes;
    opts.onProgress?.(progress);
  }
  return finish();

  function finish(): FetchSummary {
    summary.requests = client.requests - requestsBefore;
    summary.ms = performance.now() - started;
    return summary;
  }
}

/** Entries in an order where every entry comes after all its children (iterative DFS from entry 0). */
function postOrder(children: number[][], count: number): number[] {
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
