/** Why a fetch, or one peer's part in it, failed. */
import { toHex } from "../core/bytes.ts";
import type { Hash } from "../core/store.ts";

export class BadDataError extends Error {
  constructor(peer: string, hash: Hash) {
    super(`peer ${peer} sent bytes that do not match blob ${toHex(hash)}; dropped it for this fetch`);
    this.name = "BadDataError";
  }
}

export class MissingBlobError extends Error {
  constructor(
    peers: string,
    readonly hash: Hash,
  ) {
    super(`${peers} does not have (or will not share) blob ${toHex(hash)}`);
    this.name = "MissingBlobError";
  }
}

/** Every peer of a multi-peer fetch failed; `errors` says why, one per peer. */
export class FetchFailedError extends Error {
  constructor(readonly errors: { peer: string; error: Error }[]) {
    super(`no peer could serve the fetch: ${errors.map((e) => `${e.peer}: ${e.error.message}`).join("; ")}`);
    this.name = "FetchFailedError";
  }
}
