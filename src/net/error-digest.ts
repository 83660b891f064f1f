/**
 * Reports errors per peer without flooding: the first error of a peer in each interval is
 * reported at once; later ones in that interval are counted and reported as one line when the
 * interval ends. At most `maxPeers` peers are reported per interval, the rest as one count, so a
 * crowd of peers (each stranger can bring a fresh key) cannot make the log grow faster than
 * about 2 × maxPeers + 1 lines per interval, nor this table past maxPeers entries (it is emptied
 * each interval).
 */

export interface ErrorDigestLine {
  /** The peer (undefined: the line counts peers past the per-interval cap). */
  peer?: string;
  /** The first error of the interval (or, for a repeat line, the last). */
  error: string;
  /** How many errors this line stands for (1 for the first one). */
  count: number;
  /** Peers this line stands for (only for the cap line). */
  peers?: number;
}

interface Seen {
  repeats: number;
  last: string;
}

export class ErrorDigest {
  private current = new Map<string, Seen>();
  private overflowErrors = 0;
  private overflowPeers = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly report: (line: ErrorDigestLine) => void,
    readonly intervalMs = 10_000,
    private readonly maxPeers = 32,
  ) {}

  /** An error from `peer`. */
  add(peer: string, error: string): void {
    this.timer ??= setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref?.();
    const seen = this.current.get(peer);
    if (seen) {
      seen.repeats++;
      seen.last = error;
      return;
    }
    if (this.current.size >= this.maxPeers) {
      this.overflowErrors++;
      // Counted, not kept: past the cap only the number of peers matters (bounded by the cap's own size below).
      if (this.overflowPeers.size < this.maxPeers * 32) this.overflowPeers.add(peer);
      return;
    }
    this.current.set(peer, { repeats: 0, last: error });
    this.report({ peer, error, count: 1 });
  }

  /** Ends the interval: one line per peer that erred again in it, one for the peers past the cap. */
  flush(): void {
    for (const [peer, seen] of this.current) if (seen.repeats > 0) this.report({ peer, error: seen.last, count: seen.repeats });
    if (this.overflowErrors > 0) this.report({ error: "errors from further peers", count: this.overflowErrors, peers: this.overflowPeers.size });
    this.current = new Map();
    this.overflowErrors = 0;
    this.overflowPeers = new Set();
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
