/**
 * One level of a fetch's discovery walk (fetch.ts): the children lists of a frontier of DAG
 * entries, asked of several sources in requests of at most `maxBatch` parents, at most `window`
 * in flight per source. Each reply is indexed as it arrives and its bytes released at once, so a
 * level of millions of blobs never sits in memory as replies.
 *
 * A parent a source says it lacks is asked of another source; one that no live source has stays
 * childless (the download then reports it missing). A source whose request fails is dropped and
 * its requests in flight go to the others; so does one whose reply would cross a budget (the
 * reply is refused whole). The lists a dropped source gave, in this level or earlier, are
 * un-believed: `reclaim` hands back their parents, which are asked again of the others.
 */
import { BudgetExceededError } from "./fetch-budget.ts";
import type { DownloadSource } from "./download-scheduler.ts";
import { RunOnce, type RunState } from "./run-once.ts";

export interface LevelPlan<S extends DownloadSource> {
  /** The entries whose children this level lists. */
  frontier: readonly number[];
  /** Every source of the fetch, dropped ones included. */
  sources: readonly S[];
  /** Requests in flight at once, per source. */
  window: number;
  /** Most parents per request. */
  maxBatch: number;
  signal?: AbortSignal | undefined;
}

export interface LevelHooks<S extends DownloadSource> {
  /** Asks `source` for the children lists of `parents`: each list, or null where it lacks the parent. Its bytes are held until `release`d. */
  request(source: S, parents: readonly number[]): Promise<(Uint8Array | null)[]>;
  /**
   * Indexes `source`'s reply for `parents`, returning the parents it lacks. Throws
   * BudgetExceededError, having indexed nothing, when the reply would cross one of the source's
   * budgets (the source is then dropped); any other error fails the level.
   */
  index(source: S, parents: readonly number[], lists: readonly (Uint8Array | null)[]): number[];
  /** Gives back reply bytes (held since `request` answered). */
  release(bytes: number): void;
  /** Drops a source for this fetch (it must then read as `dropped`, with `inFlight` 0). */
  drop(source: S, error: Error): void;
  /** Parents whose lists came from sources dropped since the last call: asked again. */
  reclaim(): number[];
  /** The error to fail with once no source is left (or the signal aborted). */
  exhausted(): Error;
}

/** Parents asked of one source in one request. */
interface ChildrenTask<S> {
  parents: number[];
  /** Sources that answered they lack these parents. */
  refused: Set<S> | null;
  busy: S | null;
}

export type LevelState = RunState;

export class LevelDiscovery<S extends DownloadSource> {
  private readonly life: RunOnce;
  private readonly queue: ChildrenTask<S>[] = [];
  private readonly inFlight = new Set<ChildrenTask<S>>();

  constructor(
    private readonly plan: LevelPlan<S>,
    private readonly hooks: LevelHooks<S>,
  ) {
    this.life = new RunOnce("level discovery", plan.signal, () => hooks.exhausted());
    this.enqueue(plan.frontier);
  }

  get state(): LevelState {
    return this.life.state;
  }

  /** Requests waiting for a source, and requests awaiting a reply. */
  get tasks(): { queued: number; inFlight: number } {
    return { queued: this.queue.length, inFlight: this.inFlight.size };
  }

  /** Lists the whole level; resolves once every parent has a list or no live source has it. Once only. */
  run(): Promise<void> {
    return this.life.start(() => this.pump());
  }

  private enqueue(parents: readonly number[], refused: Set<S> | null = null): void {
    const { maxBatch } = this.plan;
    for (let i = 0; i < parents.length; i += maxBatch) this.queue.push({ parents: parents.slice(i, i + maxBatch), refused, busy: null });
  }

  private ask(task: ChildrenTask<S>, source: S): void {
    task.busy = source;
    source.inFlight++;
    this.inFlight.add(task);
    this.hooks.request(source, task.parents).then(
      (lists) => this.answered(task, source, lists),
      (err) => {
        if (task.busy === source) this.dropSource(source, err instanceof Error ? err : new Error(String(err)));
        this.pump();
      },
    );
  }

  /** Drops a source; its requests in flight go back on the queue for the others. */
  private dropSource(source: S, error: Error): void {
    this.hooks.drop(source, error);
    for (const task of this.inFlight) {
      if (task.busy !== source) continue;
      task.busy = null;
      this.inFlight.delete(task);
      this.queue.push(task);
    }
  }

  private answered(task: ChildrenTask<S>, source: S, lists: (Uint8Array | null)[]): void {
    let bytes = 0;
    for (const list of lists) if (list) bytes += list.length;
    try {
      if (task.busy !== source || this.life.settled) return; // the source was dropped meanwhile
      task.busy = null;
      source.inFlight--;
      this.inFlight.delete(task);
      const lacking = this.hooks.index(source, task.parents, lists);
      if (lacking.length) this.enqueue(lacking, new Set([...(task.refused ?? []), source]));
    } catch (err) {
      if (!(err instanceof BudgetExceededError)) {
        this.life.end("failed", err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // Nothing of the reply was indexed: its parents go to the other sources.
      this.queue.push(task);
      this.dropSource(source, err);
    } finally {
      this.hooks.release(bytes);
    }
    this.pump();
  }

  private pump(): void {
    if (this.life.settled) return;
    this.enqueue(this.hooks.reclaim());
    const live = this.plan.sources.filter((s) => !s.dropped);
    if (this.plan.signal?.aborted || live.length === 0) {
      this.life.end("failed", this.hooks.exhausted());
      return;
    }
    for (let i = 0; i < this.queue.length; ) {
      const task = this.queue[i]!;
      const candidates = task.refused ? live.filter((s) => !task.refused!.has(s)) : live;
      if (candidates.length === 0) {
        this.queue.splice(i, 1); // no live source has these parents: they stay childless
        continue;
      }
      let best: S | undefined;
      for (const s of candidates) if (s.inFlight < this.plan.window && (!best || s.inFlight < best.inFlight)) best = s;
      if (!best) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.ask(task, best);
    }
    if (this.queue.length === 0 && this.inFlight.size === 0) this.life.end("done");
  }
}
