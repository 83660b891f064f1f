/**
 * Byte progress of a long command (commit, checkout, pull, sync): done and total, a rate, an ETA.
 *
 * On a terminal one line is redrawn in place at most 10 times a second; elsewhere nothing is
 * drawn (a command's own result lines say what it did), so logs and pipes stay line-based.
 */
import type { FetchProgress } from "../net/fetch.ts";

/** Commands print progress only for work of at least this many bytes. */
export const PROGRESS_MIN_BYTES = 16 * 1000 * 1000;
const REDRAW_MS = 100;

/** Decimal units, as the rest of the CLI prints sizes. */
export function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/**
 * "412.3 of 1073.7 MB (38%), 56.1 MB/s, 12 s left". `approximate` marks a total that is an
 * estimate (shown as "~"); `growing` one that may still grow (shown as "≥ … so far").
 */
export function describeBytes(done: number, total: number, seconds: number, opts: { approximate?: boolean; growing?: boolean } = {}): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const left = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
  const of = opts.growing ? `≥ ${mb(total)} so far` : `${opts.approximate ? "~" : ""}${mb(total)}`;
  const pct = total > 0 ? ` (${Math.min(100, Math.floor((100 * done) / total))}%)` : "";
  const eta = opts.growing || done >= total ? "" : `, ${opts.approximate ? "about " : ""}${duration(left)} left`;
  return `${(done / 1e6).toFixed(1)} of ${of}${pct}, ${mb(rate)}/s${eta}`;
}

/**
 * A fetch's bytes so far and its expected total. The protocol names blobs, not sizes, so the
 * total is the bytes stored plus the blobs still missing at the average size of those stored (for
 * a large file, whose chunks are all 1 MiB but the last, that is close); while the DAG is still
 * being discovered more blobs may turn up, and the total is a lower bound.
 */
export function fetchEstimate(p: FetchProgress): { done: number; total: number; growing: boolean } {
  const average = p.stored > 0 ? p.bytes / p.stored : 0;
  const total = p.bytes + Math.max(0, p.discovered - p.stored) * average;
  return { done: p.bytes, total, growing: p.discovering };
}

/** One progress line on a terminal (stderr); does nothing when `enabled` is false. */
export class ProgressLine {
  private readonly started = performance.now();
  private drawn = 0;
  private done = 0;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  /** Counts `n` more bytes done; redraws when due. */
  add(n: number): void {
    this.done += n;
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.drawn < REDRAW_MS && this.done < this.total) return;
    this.drawn = now;
    this.shown = true;
    process.stderr.write(`\r\x1b[K${this.label} ${describeBytes(this.done, this.total, (now - this.started) / 1000)}`);
  }

  /** Clears the line (the command prints its result next). */
  end(): void {
    if (this.shown) process.stderr.write("\r\x1b[K");
    this.shown = false;
  }
}

/** A progress line for work of `total` bytes, drawn only on a terminal and for large work. */
export function progressLine(label: string, total: number, json: boolean | undefined): ProgressLine {
  return new ProgressLine(label, total, !json && process.stderr.isTTY === true && total >= PROGRESS_MIN_BYTES);
}
