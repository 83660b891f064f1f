/**
 * A progress deadline for a client's replies: while at least one reply is awaited, the peer must
 * send some bytes every `idleMs`; if it goes silent that long, `onIdle` fires once (the client
 * then aborts its streams and fails the waiting requests, naming the peer). A slow but moving
 * transfer never trips it, however long it takes; a peer that stops does, however small the
 * reply. Nothing is timed while nothing is awaited (an idle connection between fetches is fine).
 */

type Clock = () => number;

export class IdleWatchdog {
  private awaited = 0;
  private lastProgress = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private fired = false;

  constructor(
    readonly idleMs: number,
    private readonly onIdle: () => void,
    private readonly now: Clock = () => performance.now(),
  ) {}

  /** Wraps a stream's chunks: each one counts as progress. */
  track<T>(source: AsyncIterable<T>): AsyncIterable<T> {
    const watchdog = this;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of source) {
          watchdog.progress();
          yield chunk;
        }
      },
    };
  }

  /** Bytes arrived. */
  progress(): void {
    this.lastProgress = this.now();
  }

  /** A reply is now awaited; the clock starts with the first one. */
  begin(): void {
    if (this.awaited++ === 0) {
      this.lastProgress = this.now();
      this.arm(this.idleMs);
    }
  }

  /** A reply arrived (or its request failed). */
  end(): void {
    if (--this.awaited > 0) return;
    this.awaited = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs `reply` as one awaited reply. */
  watch<T>(reply: () => Promise<T>): Promise<T> {
    this.begin();
    let result: Promise<T>;
    try {
      result = reply();
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.finally(() => this.end());
  }

  stop(): void {
    this.fired = true;
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref?.();
  }

  private check(): void {
    this.timer = undefined;
    if (this.fired || this.awaited === 0) return;
    const silent = this.now() - this.lastProgress;
    if (silent < this.idleMs) {
      this.arm(this.idleMs - silent);
      return;
    }
    this.fired = true;
    this.onIdle();
  }
}
