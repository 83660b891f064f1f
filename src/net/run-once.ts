/**
 * The life of a one-shot scheduler run (download-scheduler.ts, level-discovery.ts): idle, then
 * running until it ends done or failed, once; an abort of the signal fails it.
 */
export type RunState = "idle" | "running" | "done" | "failed";

export class RunOnce {
  private stateNow: RunState = "idle";
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private readonly onAbort = () => this.end("failed", this.abortError());

  constructor(
    /** What runs, for the error a second `start` raises. */
    private readonly what: string,
    private readonly signal: AbortSignal | undefined,
    /** The error an abort fails the run with. */
    private readonly abortError: () => Error,
  ) {}

  get state(): RunState {
    return this.stateNow;
  }

  /** Whether the run has ended (or not started). */
  get settled(): boolean {
    return this.stateNow !== "running";
  }

  /** Starts the run, calling `pump` once; resolves or rejects when `end` is called. Once only. */
  start(pump: () => void): Promise<void> {
    if (this.stateNow !== "idle") throw new Error(`${this.what} already ${this.stateNow}`);
    this.stateNow = "running";
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.signal?.addEventListener("abort", this.onAbort);
      pump();
    });
  }

  /** Ends the run (the first call wins). */
  end(state: "done" | "failed", err?: Error): void {
    if (this.settled) return;
    this.stateNow = state;
    this.signal?.removeEventListener("abort", this.onAbort);
    if (err) this.settle!.reject(err);
    else this.settle!.resolve();
  }
}
