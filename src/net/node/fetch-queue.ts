/**
 * The heads a sync node wants fetched: the latest per key (publisher + branch), one fetch at a
 * time per key, and failed fetches tried again after RETRY_DELAYS_MS unless a newer head comes first.
 */
import type { NodeLife } from "./life.ts";

/**
 * A failed fetch is tried again after these delays (unless a newer head arrives first): a
 * connection that drops mid-fetch should not leave a head missing until the next republish.
 */
export const RETRY_DELAYS_MS = [250, 1000, 4000];

export class FetchQueue<T> {
  /** Latest wanted item per key. */
  private readonly wanted = new Map<string, T>();
  /** Keys whose loop is running. */
  private readonly running = new Set<string>();
  /** Failed fetches retried so far, per key. */
  private readonly retries = new Map<string, number>();
  /** Retry timers not yet fired. */
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly life: NodeLife,
    /** Handles one item; a throw ends that key's loop (reported as a warning), as nothing else should. */
    private readonly work: (key: string, item: T) => Promise<void>,
    private readonly delays: readonly number[] = RETRY_DELAYS_MS,
  ) {}

  /** Wants `item` for `key` (replacing an older wanted one), starting the key's loop if idle. */
  want(key: string, item: T): void {
    this.wanted.set(key, item);
    if (!this.running.has(key)) this.life.background("fetching a head", () => this.loop(key));
  }

  /**
   * Wants `item` again at once, unless a newer item is wanted by now: for a fetch cut short by
   * something that no longer holds (its client left a relay for a direct connection), which
   * should neither wait nor use up a retry.
   */
  again(key: string, item: T): void {
    if (!this.wanted.has(key)) this.want(key, item);
  }

  /** A fetch for `key` succeeded (or needs none): its retries start over. */
  succeeded(key: string): void {
    this.retries.delete(key);
  }

  /** Forgets everything wanted or to be retried under keys starting with `prefix`. */
  forget(prefix: string): void {
    for (const key of [...this.wanted.keys()]) if (key.startsWith(prefix)) this.wanted.delete(key);
    for (const key of [...this.retries.keys()]) if (key.startsWith(prefix)) this.retries.delete(key);
  }

  /**
   * Wants `item` again after the next retry delay (returned), unless a newer item is wanted by
   * then; undefined once the retries are used up.
   */
  retryLater(key: string, item: T): number | undefined {
    const attempt = this.retries.get(key) ?? 0;
    const delay = this.delays[attempt];
    if (delay === undefined) {
      this.retries.delete(key);
      return undefined;
    }
    this.retries.set(key, attempt + 1);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.life.stopped || this.wanted.has(key)) return;
      this.want(key, item);
    }, delay);
    timer.unref?.();
    this.retryTimers.add(timer);
    return delay;
  }

  /** Keys whose fetch loop is running, and retries scheduled: tests wait for these to settle instead of sleeping. */
  get activity(): { running: number; retriesScheduled: number } {
    return { running: this.running.size, retriesScheduled: this.retryTimers.size };
  }

  /** Cancels the retries scheduled (the node stops). */
  stop(): void {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  private async loop(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let item = this.wanted.get(key); item && !this.life.stopped; item = this.wanted.get(key)) {
        this.wanted.delete(key);
        await this.work(key, item);
      }
    } finally {
      this.running.delete(key);
    }
  }
}
