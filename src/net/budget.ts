/**
 * What one peer may make the pile-sync server spend, and the machinery that holds it to that:
 * requests run in slices of bounded work (bytes scanned or sent) with the event loop free between
 * slices, one request per connection at a time (the rest wait their turn in a queue), and a
 * request whose stream has gone is dropped at its next slice instead of running to the end.
 * Without this a single CHILDREN_MANY naming a large blob thousands of times held the event loop
 * for seconds, and pipelined copies kept it held after the requester had left.
 */
import type { Stream } from "@libp2p/interface";
import { ProtocolError } from "./stream-io.ts";

export const SERVER_BUDGET = {
  /** Work (bytes scanned for children, hashed or sent) a request does before others get a turn. */
  sliceBytes: 1 << 20,
  /** Concurrent pile-sync v5 streams a connection may hold open (an honest client uses three). */
  v5StreamsPerConnection: 16,
  /** Concurrent v4 streams per connection (the reference opens one per operation). */
  v4StreamsPerConnection: 64,
  /** AUTH frames a connection may have being read at once. */
  authStreamsPerConnection: 2,
  /** A frame, once begun, must arrive whole within this (a peer trickling bytes is cut off). */
  frameMs: 30_000,
  /** Within a frame, the longest wait for the next byte. */
  progressMs: 10_000,
  /** An AUTH frame must arrive whole within this (it is small; see LIMITS.maxAuthBytes). */
  authFrameMs: 10_000,
  /**
   * Request bytes a stream may have received ahead of the one being answered before the server
   * stops reading it (the peer's transport then stops sending: stream-io.ts, BoundedSource). An
   * honest client pipelines more, which waits in its own send buffer instead of ours.
   */
  maxUnreadBytes: 1 << 20,
};

/** What SERVER_BUDGET holds; a SyncServer takes any part of it as an option (ServerOptions.budget). */
export type ServerBudget = typeof SERVER_BUDGET;

/**
 * Checks that every limit given is a positive whole number (a budget of 0 or a fraction would
 * refuse everything or nothing); throws a RangeError naming the limit.
 */
export function checkLimits(group: string, limits: Record<string, unknown> | undefined): void {
  for (const [name, value] of Object.entries(limits ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${group}.${name} must be a positive whole number, got ${String(value)}`);
  }
}

/** The request's stream closed or was reset while the request ran: its work is abandoned. */
export class RequestAbandoned extends ProtocolError {
  constructor() {
    super("the requester closed its stream; request abandoned");
    this.name = "RequestAbandoned";
  }
}

/** Lets the event loop run (I/O, timers, other peers' requests) before continuing. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One connection's turn-taking: a request holds the lane while it works and gives it up between
 * slices, so a connection never has more than one request computing however many streams it opens
 * or requests it pipelines, and every other connection gets a turn after each slice.
 */
export class Lane {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  async acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }

  /** Runs `work` holding the lane. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

/** Whether a stream can still carry our reply. */
export const streamLive = (stream: Stream) => stream.status === "open" && stream.writeStatus === "writable";

/**
 * Meters one request's work on its lane: after each `sliceBytes` spent it yields (the lane goes to
 * the next waiting request of the connection, the loop to everyone else) and throws
 * RequestAbandoned once the stream is gone.
 */
export class WorkMeter {
  private spent = 0;

  constructor(
    private readonly stream: Stream,
    private readonly lane: Lane,
    readonly sliceBytes = SERVER_BUDGET.sliceBytes,
  ) {}

  /**
   * Counts `bytes` of work done. At a slice's end it takes a turn off and returns the wait for the
   * lane to come back; otherwise it returns undefined, so a loop over blobs awaits only then (an
   * async call and an await per blob made a sender's heap swing by tens of MB between collections).
   */
  spend(bytes: number): Promise<void> | undefined {
    this.spent += bytes;
    if (this.spent < this.sliceBytes) return undefined;
    this.spent = 0;
    return this.turnOff();
  }

  private async turnOff(): Promise<void> {
    this.lane.release();
    try {
      await yieldToLoop();
    } finally {
      await this.lane.acquire();
    }
    if (!streamLive(this.stream)) throw new RequestAbandoned();
  }
}

/** Counts something per key (connection id) with a ceiling; `enter` is false when the key is at it. */
export class PerKeyCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  enter(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  leave(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }
}
