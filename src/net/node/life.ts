/** A sync node's lifetime as its parts share it: whether it stopped, a signal that aborts at stop, events, background work. */
import type { SyncEvent } from "./types.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("node");

export class NodeLife {
  private stoppedNow = false;
  /** Aborts DHT operations, dials and waits still running at stop. */
  private readonly lifetime = new AbortController();

  constructor(private readonly onEvent: ((event: SyncEvent) => void) | undefined) {}

  get stopped(): boolean {
    return this.stoppedNow;
  }

  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** Whether anyone listens to events (a caller may skip building one). */
  get listening(): boolean {
    return this.onEvent !== undefined;
  }

  emit(event: SyncEvent): void {
    this.onEvent?.(event);
  }

  stop(): void {
    this.stoppedNow = true;
    this.lifetime.abort();
  }

  /**
   * Runs `work` in the background: a failure becomes one "warning" event and the node goes on (an
   * unhandled rejection would end the process).
   */
  background(what: string, work: () => Promise<unknown>): void {
    work().catch((err: unknown) => {
      if (this.stoppedNow) return;
      try {
        this.onEvent?.({ type: "warning", message: `${what} failed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}` });
      } catch (listenerErr) {
        log.error("the event listener threw on a warning: %s", describe(listenerErr));
      }
    });
  }

  /** Waits `ms`, or less if the node stops meanwhile. */
  sleep(ms: number): Promise<void> {
    const signal = this.lifetime.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      if (signal.aborted) done();
    });
  }
}
