/**
 * The flags that raise a fetch's budgets and deadline, shared by `pile net pull` and `pile net
 * sync` (see net/fetch-budget.ts for what each bounds and its default).
 */
import type { Command } from "cac";
import { DEFAULT_FETCH_LIMITS, DEFAULT_IDLE_MS, type FetchLimits } from "../net/fetch-budget.ts";
import { CliError } from "./errors.ts";

export interface FetchFlags {
  maxBlobs?: string | number;
  maxReferences?: string | number;
  maxDepth?: string | number;
  maxBufferedMib?: string | number;
  maxInFlight?: string | number;
  idleTimeout?: string | number;
}

/** Registers the flags on a command. */
export function withFetchFlags(command: Command): Command {
  const d = DEFAULT_FETCH_LIMITS;
  return command
    .option("--max-blobs <n>", `Most missing blobs one fetch may discover (default ${d.maxBlobs})`)
    .option("--max-references <n>", `Most child references one fetch may keep (default ${d.maxReferences})`)
    .option("--max-depth <n>", `Most DAG levels one fetch may walk (default ${d.maxDepth})`)
    .option("--max-buffered-mib <n>", `Most reply bytes one fetch may hold at once, in MiB (default ${d.maxBufferedBytes / 2 ** 20})`)
    .option("--max-in-flight <n>", "Requests in flight per peer during a fetch (default 8)")
    .option("--idle-timeout <seconds>", `Drop a peer that sends nothing this long while a reply is due (default ${DEFAULT_IDLE_MS / 1000})`);
}

/** What the flags ask for, as options for SyncClient.connect and fetchClosure / SyncNode. */
export function fetchSettings(flags: FetchFlags): { limits: Partial<FetchLimits>; window?: number; idleMs?: number } {
  const limits: Partial<FetchLimits> = {};
  const count = (value: string | number | undefined, flag: string): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive whole number, got ${value}`);
    return n;
  };
  const blobs = count(flags.maxBlobs, "--max-blobs");
  if (blobs) limits.maxBlobs = blobs;
  const references = count(flags.maxReferences, "--max-references");
  if (references) limits.maxReferences = references;
  const depth = count(flags.maxDepth, "--max-depth");
  if (depth) limits.maxDepth = depth;
  const mib = count(flags.maxBufferedMib, "--max-buffered-mib");
  if (mib) limits.maxBufferedBytes = mib * 2 ** 20;
  const window = count(flags.maxInFlight, "--max-in-flight");
  let idleMs: number | undefined;
  if (flags.idleTimeout !== undefined) {
    const seconds = Number(flags.idleTimeout);
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new CliError(`--idle-timeout must be a positive number of seconds, got ${flags.idleTimeout}`);
    idleMs = Math.round(seconds * 1000);
  }
  return { limits, ...(window ? { window } : {}), ...(idleMs ? { idleMs } : {}) };
}
