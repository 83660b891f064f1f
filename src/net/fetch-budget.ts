/**
 * What one fetch may make us spend, whatever its peers send: the blobs and references each peer
 * names, the depth of what it names, the reply bytes the fetch holds at once. Each bound is
 * checked before the work it bounds (before a reply's children are indexed, before a reply's bytes
 * are read), and a peer whose reply would cross one is dropped for that fetch with a
 * BudgetExceededError naming it and the bound; the lists it gave are asked again of the other
 * peers, which go on (the discovery bounds are charged per peer, so a liar cannot use up an
 * honest peer's share).
 *
 * The defaults leave room for an honest pile of 10 M blobs; callers raise them with the fetch's
 * options (`FetchOptions.limits`), the CLI with flags (see `LIMIT_FLAGS`).
 */

/** A peer that sends nothing this long while a reply is due is dropped (SyncClient's `idleMs`). */
export const DEFAULT_IDLE_MS = 5000;

export interface FetchLimits {
  /** Distinct missing blobs one peer may name in one fetch. */
  maxBlobs: number;
  /** Child references one peer may list in one fetch (the missing DAG's edges, 4 bytes each kept). */
  maxReferences: number;
  /** Depth below the head at which a peer may name a blob (each level costs a CHILDREN round trip). */
  maxDepth: number;
  /** Reply bytes one fetch may hold at once (children lists not yet indexed, blobs not yet stored). */
  maxBufferedBytes: number;
}

export const DEFAULT_FETCH_LIMITS: Readonly<FetchLimits> = {
  maxBlobs: 1 << 24,
  maxReferences: 1 << 26,
  maxDepth: 1 << 24,
  maxBufferedBytes: 1 << 30,
};

/** The CLI flag that raises each limit (named in the error, so the user knows what to do). */
export const LIMIT_FLAGS: Record<keyof FetchLimits, string> = {
  maxBlobs: "--max-blobs",
  maxReferences: "--max-references",
  maxDepth: "--max-depth",
  maxBufferedBytes: "--max-buffered-mib",
};

const WHAT: Record<keyof FetchLimits, string> = {
  maxBlobs: "blobs discovered",
  maxReferences: "child references",
  maxDepth: "DAG levels",
  maxBufferedBytes: "bytes buffered",
};

export class BudgetExceededError extends Error {
  constructor(
    readonly peer: string,
    readonly budget: keyof FetchLimits,
    readonly limit: number,
  ) {
    super(
      `peer ${peer} exceeded this fetch's budget of ${limit} ${WHAT[budget]}; dropped it for this fetch (an honest DAG this large needs ${LIMIT_FLAGS[budget]} / limits.${budget} raised)`,
    );
    this.name = "BudgetExceededError";
  }
}

/** The limits in effect: the defaults, with the caller's overrides (each a positive integer). */
export function resolveLimits(given: Partial<FetchLimits> = {}): FetchLimits {
  const limits = { ...DEFAULT_FETCH_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`fetch limit ${name} must be a positive integer, got ${value}`);
  }
  return limits;
}

/** Reply bytes held by one fetch: reserved before a reply's bytes are read, released once used. */
export class ByteBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /** Reserves `n` bytes for `peer`'s reply, or throws BudgetExceededError (nothing reserved). */
  reserve(n: number, peer: string): void {
    if (this.held + n > this.limit) throw new BudgetExceededError(peer, "maxBufferedBytes", this.limit);
    this.held += n;
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n);
  }
}
