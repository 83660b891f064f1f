/**
 * DHT provider records for branch heads, debounced: a DHT operation costs milliseconds of CPU that
 * would otherwise sit between a commit and its arrival at the other peers.
 */
import { toHex } from "../../core/bytes.ts";
import type { BranchId, Hash } from "../../core/store.ts";
import type { Host } from "../host.ts";
import { announceProvider } from "../providers.ts";
import type { NodeLife } from "./life.ts";

/** A branch's provider record is placed once it has been quiet this long… */
export const PROVIDE_QUIET_MS = 500;
/** …or at the latest this long after its first unannounced change. */
export const PROVIDE_MAX_WAIT_MS = 5000;

export class ProvideDebouncer {
  /** Newest head per branch (hex id) waiting for its provider record. */
  private readonly pending = new Map<string, Hash>();
  private firstPendingAt: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: Host,
    private readonly life: NodeLife,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records in the DHT that this node serves `head` and its closure, once the branch has been
   * quiet for PROVIDE_QUIET_MS (at most PROVIDE_MAX_WAIT_MS after its first change), for its
   * newest head only.
   */
  provide(branchId: BranchId, head: Hash): void {
    if (!this.host.services.dht || this.life.stopped) return;
    this.pending.set(toHex(branchId), head);
    this.firstPendingAt ??= this.now();
    clearTimeout(this.timer);
    const wait = Math.min(PROVIDE_QUIET_MS, Math.max(0, this.firstPendingAt + PROVIDE_MAX_WAIT_MS - this.now()));
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref?.();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private flush(): void {
    const heads = [...this.pending.values()];
    this.pending.clear();
    this.firstPendingAt = undefined;
    for (const head of heads) {
      announceProvider(this.host, head, this.life.signal).catch((err) => {
        if (!this.life.stopped) this.life.emit({ type: "provide-failed", head: toHex(head), error: err instanceof Error ? err.message : String(err) });
      });
    }
  }
}
