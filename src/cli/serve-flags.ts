/**
 * The flags that set the serving limits of `pile net sync`: what one peer may make the node spend
 * (net/budget.ts), the bounds on an AUTH frame (net/auth-frame.ts), and the limits on connections
 * that have not authenticated (net/admission.ts, net/handshake-gate.ts). The defaults leave room
 * for honest peers; raise one when a log line ("peer-error") shows honest peers hitting it.
 */
import type { Command } from "cac";
import { DEFAULT_ADMISSION } from "../net/admission.ts";
import { AUTH_LIMITS } from "../net/auth-frame.ts";
import { SERVER_BUDGET } from "../net/budget.ts";
import { MAX_PENDING_HANDSHAKES_PER_IP } from "../net/handshake-gate.ts";
import type { SyncNodeOptions } from "../net/sync.ts";
import { CliError } from "./errors.ts";

export interface ServeFlags {
  serveStreams?: string | number;
  serveUnreadKib?: string | number;
  serveSliceKib?: string | number;
  serveFrameTimeout?: string | number;
  serveStallTimeout?: string | number;
  authTimeout?: string | number;
  authMaxBlobs?: string | number;
  authMaxKib?: string | number;
  maxStrangers?: string | number;
  maxStrangersPerIp?: string | number;
  maxHandshakesPerIp?: string | number;
}

const b = SERVER_BUDGET;
const seconds = (ms: number) => ms / 1000;

/** Registers the flags on a command. */
export function withServeFlags(command: Command): Command {
  return command
    .option("--serve-streams <n>", `Serving: pile-sync streams one connection may hold open (default ${b.v5StreamsPerConnection}; an honest peer uses 3)`)
    .option("--serve-unread-kib <n>", `Serving: request bytes a stream may send ahead of our replies before we stop reading it, in KiB (default ${b.maxUnreadBytes / 1024})`)
    .option("--serve-slice-kib <n>", `Serving: work one request does before other peers get a turn, in KiB (default ${b.sliceBytes / 1024})`)
    .option("--serve-frame-timeout <seconds>", `Serving: a request, once begun, must arrive whole within this (default ${seconds(b.frameMs)})`)
    .option("--serve-stall-timeout <seconds>", `Serving: the longest gap within a request; also how long a reply nobody reads is kept (default ${seconds(b.progressMs)})`)
    .option("--auth-timeout <seconds>", `Close an inbound connection that has not authenticated within this (default ${seconds(DEFAULT_ADMISSION.authDeadlineMs)})`)
    .option("--auth-max-blobs <n>", `Blobs an AUTH frame may carry before it is verified (default ${AUTH_LIMITS.maxBlobs})`)
    .option("--auth-max-kib <n>", `Bytes of an AUTH frame's blobs together, in KiB (default ${AUTH_LIMITS.maxTotalBytes / 1024})`)
    .option("--max-strangers <n>", `Inbound connections without a successful AUTH kept at once (default ${DEFAULT_ADMISSION.maxStrangers}; the oldest is closed past it)`)
    .option("--max-strangers-per-ip <n>", `The same, per IP address (default ${DEFAULT_ADMISSION.maxStrangersPerIp})`)
    .option("--max-handshakes-per-ip <n>", `Connection handshakes one IP address may have pending at once (default ${MAX_PENDING_HANDSHAKES_PER_IP})`);
}

/** What the flags ask for, as SyncNodeOptions (`server` and `maxPendingHandshakesPerIp`). */
export function serveSettings(flags: ServeFlags): Pick<SyncNodeOptions, "server" | "maxPendingHandshakesPerIp"> {
  const count = (value: string | number | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0 || n > max) throw new CliError(`${flag} must be a whole number from 1 to ${max}, got ${value}`);
    return n;
  };
  const ms = (value: string | number | undefined, flag: string): number | undefined => {
    if (value === undefined) return undefined;
    const s = Number(value);
    if (!Number.isFinite(s) || s <= 0 || s > 86_400) throw new CliError(`${flag} must be a number of seconds above 0 and at most 86400, got ${value}`);
    return Math.max(1, Math.round(s * 1000));
  };
  const kib = (value: string | number | undefined, flag: string): number | undefined => {
    const n = count(value, flag, 1 << 22);
    return n === undefined ? undefined : n * 1024;
  };
  const budget = {
    v5StreamsPerConnection: count(flags.serveStreams, "--serve-streams", 1024),
    maxUnreadBytes: kib(flags.serveUnreadKib, "--serve-unread-kib"),
    sliceBytes: kib(flags.serveSliceKib, "--serve-slice-kib"),
    frameMs: ms(flags.serveFrameTimeout, "--serve-frame-timeout"),
    progressMs: ms(flags.serveStallTimeout, "--serve-stall-timeout"),
  };
  const auth = { maxBlobs: count(flags.authMaxBlobs, "--auth-max-blobs", 100_000), maxTotalBytes: kib(flags.authMaxKib, "--auth-max-kib") };
  // One blob may be as large as all of them together, if the total is lowered below it.
  if (auth.maxTotalBytes !== undefined && auth.maxTotalBytes < AUTH_LIMITS.maxBlobBytes) Object.assign(auth, { maxBlobBytes: auth.maxTotalBytes });
  const admission = {
    authDeadlineMs: ms(flags.authTimeout, "--auth-timeout"),
    maxStrangers: count(flags.maxStrangers, "--max-strangers", 100_000),
    maxStrangersPerIp: count(flags.maxStrangersPerIp, "--max-strangers-per-ip", 100_000),
  };
  const handshakes = count(flags.maxHandshakesPerIp, "--max-handshakes-per-ip", 100_000);
  return { server: { budget, auth, admission }, ...(handshakes !== undefined ? { maxPendingHandshakesPerIp: handshakes } : {}) };
}
