/**
 * Waiting for a peer's capability. A head gossiped by a peer often arrives before that peer's
 * AUTH has been verified here (both start on connect), so admitting it waits until the policy
 * admits the publisher, re-checking whenever an AUTH is accepted rather than polling, and gives up
 * after a bound.
 */

/** Pending checks, each re-run by `notify` until it passes or its time is up. */
export class CapabilityWait {
  private readonly waiters = new Set<() => void>();

  /**
   * Resolves true as soon as `check()` holds (now, or on a later `notify`), false after `ms`.
   * `timers` is injectable so tests need not wait in real time.
   */
  wait(check: () => boolean, ms: number, timers: Timers = globalThis): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const recheck = () => {
        if (!check()) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        this.waiters.delete(recheck);
        timers.clearTimeout(timer);
        resolve(ok);
      };
      const timer = timers.setTimeout(() => finish(false), ms);
      this.waiters.add(recheck);
    });
  }

  /** Re-runs every pending check (call after the policy accepted a capability). */
  notify(): void {
    for (const recheck of [...this.waiters]) recheck();
  }

  /** Checks still waiting. */
  get pending(): number {
    return this.waiters.size;
  }
}

/** The two timer functions `CapabilityWait` uses. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout>;
  clearTimeout(handle: ReturnType<typeof setTimeout>): void;
}
