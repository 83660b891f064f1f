/** Implementations of `tribles pile net …` (loaded only when one of them runs: libp2p is heavy). */
import { TeamPolicy } from "../auth/policy.ts";
import { describeRefusal, formatInstant, type Refusal } from "../auth/refusal.ts";
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { shrinkAfterStartup } from "../core/gc-pacer.ts";
import { decodeLongString } from "../core/longstring.ts";
import { lockPileForSync } from "../pile/sync-lock.ts";
import { parseBranchMeta } from "../repo/branch-meta.ts";
import { treeAt } from "../repo/file-tree.ts";
import type { MergeOutcome } from "../repo/merge-policy.ts";
import { Repository } from "../repo/repository.ts";
import type { TrackingResult } from "../repo/tracking.ts";
import { addressBookPath } from "../net/address-book.ts";
import { controlSocketPath } from "../net/control-socket.ts";
import { checkDirect, parseDialTarget } from "../net/dial-target.ts";
import { AddressError, ListenError, parseAddress, SYNC_LISTEN } from "../net/host.ts";
import { peerIdFromKey, peerPublicKey } from "../net/peer-key.ts";
import type { RemoteHead, SyncDirection } from "../net/peer.ts";
import { PullError, pullBranch } from "../net/pull.ts";
import type { SyncEvent } from "../net/sync.ts";
import type { ReachEvent, RelayLimits } from "../net/relay.ts";
import { TeamSync, type TeamSyncEvent } from "../net/team-sync.ts";
import { asList, openPile, signingKey } from "./common.ts";
import { CliError } from "./errors.ts";
import { type FetchFlags, fetchSettings } from "./fetch-flags.ts";
import { type ServeFlags, serveSettings } from "./serve-flags.ts";
import { checkOwnCapability } from "./own-capability.ts";
import { describeBytes, fetchEstimate } from "./progress.ts";
import { describeConflict } from "./repo-actions.ts";
import { capHandleOf, givenTeamRoot, type TeamOptions, teamRootOf } from "./team-context.ts";

/**
 * What is likely wrong with a sync's team settings: without a team root this node is a team of
 * one (it accepts only capabilities its own key issued), and without a capability the peers of
 * another root refuse it. Both are legal, so they are warnings, but silence here looked like a
 * sync that simply never received anything.
 */
function teamWarnings(opts: TeamOptions, key: SigningKey): string[] {
  const root = givenTeamRoot(opts);
  const warnings: string[] = [];
  if (!root) warnings.push("no team root (--team-root or $TRIBLE_TEAM_ROOT): this node trusts only capabilities issued by its own key");
  if (!capHandleOf(opts) && root && !bytesEqual(root, key.publicKey)) warnings.push("no capability (--cap or $TRIBLE_TEAM_CAP): peers of this team will refuse to serve or hear this node");
  return warnings;
}

export interface SyncOptions extends TeamOptions, FetchFlags, ServeFlags {
  peers?: string | string[];
  listen?: string | string[];
  branch?: string | string[];
  direction: string;
  key?: string;
  json?: boolean;
  republish: number;
  mdns?: boolean;
  merge: boolean;
  directOnly?: boolean;
  /** false with --no-remember: no address book is read or written. */
  remember?: boolean;
  /** Team relays to reserve on (multiaddrs with /p2p/RELAY-ID). */
  relay?: string | string[];
}

/** `tribles relay`: the limits of what the relay carries per member. */
export interface RelayOptions extends Omit<SyncOptions, "direction" | "merge" | "republish" | "branch"> {
  maxReservations?: string | number;
  relayMinutes?: string | number;
  relayMib?: string | number;
}

const DIRECTIONS: SyncDirection[] = ["bidirectional", "readonly", "writeonly"];

/** Parses a user-given multiaddr, or fails with one line (naming the option, if given). */
function address(text: string, option?: string): ReturnType<typeof parseAddress> {
  try {
    return parseAddress(text);
  } catch (err) {
    const message = (err as Error).message;
    throw new CliError(err instanceof AddressError && option ? `${option}: ${message}` : message);
  }
}

/** A --peers value: a multiaddr, a PeerId or a public key, or one line saying what is wrong. */
function dialTargetArg(text: string, directOnly: boolean): void {
  try {
    const target = parseDialTarget(text);
    if (directOnly) checkDirect(target);
  } catch (err) {
    throw new CliError(`--peers: ${(err as Error).message}`);
  }
}

/** "1 blob", "2 blobs". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * An always-on team relay: a sync node that publishes nothing and fetches nothing (writeonly with
 * no branches of its own), serves circuit relay v2 reservations to members only, within limits,
 * and the DHT through which members find each other.
 */
export async function runRelay(opts: RelayOptions & { pile?: string }): Promise<number> {
  if (!opts.pile) throw new CliError("--pile is required: the relay's pile holds the team's capability chains it checks members against");
  const limit = (v: string | number | undefined, flag: string, scale: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new CliError(`${flag} must be a positive number`);
    return Math.round(n * scale);
  };
  const limits: Partial<RelayLimits> = {};
  const maxReservations = limit(opts.maxReservations, "--max-reservations", 1);
  const durationMs = limit(opts.relayMinutes, "--relay-minutes", 60_000);
  const dataBytes = limit(opts.relayMib, "--relay-mib", 1 << 20);
  if (maxReservations) limits.maxReservations = maxReservations;
  if (durationMs) limits.durationMs = durationMs;
  if (dataBytes) limits.dataBytes = dataBytes;
  return runSync(opts.pile, { ...opts, direction: "writeonly", merge: false, republish: 30, relayServer: { limits } });
}

export async function runSync(path: string, opts: SyncOptions & { relayServer?: { limits: Partial<RelayLimits> } }): Promise<number> {
  const direction = opts.direction as SyncDirection;
  if (!DIRECTIONS.includes(direction)) throw new CliError(`--direction must be one of ${DIRECTIONS.join(", ")}`);
  const republishSeconds = Number(opts.republish);
  if (!(republishSeconds > 0)) throw new CliError("--republish must be a positive number of seconds");
  const peers = asList(opts.peers);
  const listen = asList(opts.listen);
  for (const peer of peers) dialTargetArg(peer, opts.directOnly === true);
  const relays = asList(opts.relay);
  if (relays.length && opts.directOnly) throw new CliError("--relay and --direct-only exclude each other: a relay carries relayed connections");
  for (const addr of relays) if (!address(addr, "--relay").peerId) throw new CliError(`--relay: ${addr} must end in /p2p/<relay peer id>`);
  for (const addr of listen) address(addr, "--listen");
  const fetching = fetchSettings(opts);
  const serving = serveSettings(opts);
  const pile = openPile(path);
  const syncLock = lockPileForSync(path);
  if (!syncLock) {
    pile.close();
    throw new CliError(`another \`tribles pile net sync\` is already running on ${path}; stop it first (one sync per pile serves every peer)`);
  }
  const key = signingKey(opts, path);
  const teamRoot = teamRootOf(opts, key);
  const policy = new TeamPolicy(pile, teamRoot);
  for (const warning of teamWarnings(opts, key)) console.error(`warning: ${warning}`);
  const wantedBranches = new Set(asList(opts.branch));
  const log = (event: Record<string, unknown>, text: string) => {
    if (opts.json) console.log(JSON.stringify({ time: Date.now(), ...event }));
    else console.log(text);
  };
  // A member's pile may not hold its own chain before its first sync (it lives in the issuer's
  // pile): then the check runs again at each tick until the chain has been fetched.
  policy.refreshRevocations();
  let own = checkOwnCapability(pile.reader(), teamRoot, key.publicKey, capHandleOf(opts), { revoked: policy.revoked });
  const judgeOwn = () => {
    if (own.judged) return;
    own = checkOwnCapability(pile.reader(), teamRoot, key.publicKey, capHandleOf(opts), { revoked: policy.revoked });
    for (const message of own.warnings) log({ event: "warning", message }, `warning: ${message}`);
    if (own.judged) for (const [branchId, head] of unjudged.splice(0)) announcePublished(branchId, head);
  };
  for (const message of own.warnings) log({ event: "warning", message }, `warning: ${message}`);
  /** Branches whose heads we did not announce as published: our capability does not let peers accept them. */
  const unpublishable = new Set<string>();
  /** Heads published before our own capability could be judged (its chain not fetched yet). */
  const unjudged: [Uint8Array, Uint8Array][] = [];
  /** Why peers will refuse our heads on a branch, or undefined if they accept them. */
  const refusedBecause = (branchId: Uint8Array): string | undefined => {
    if (bytesEqual(key.publicKey, teamRoot)) return undefined;
    if (!own.cap) return capHandleOf(opts) ? "your capability is refused (see the warning above)" : "you hold no capability";
    if (own.cap.grantsWriteOn(branchId)) return undefined;
    return own.cap.grantsWrite() ? "your capability does not cover this branch" : "your capability is read-only";
  };
  const announcePublished = (branchId: Uint8Array, head: Uint8Array) => {
    if (!own.judged) {
      unjudged.push([branchId, head]);
      return;
    }
    const name = branchName(repo, head) ?? toHex(branchId);
    names.set(toHex(branchId), name);
    const why = refusedBecause(branchId);
    if (why) {
      // Peers refuse heads our capability does not let us write: "published" would be a lie.
      if (unpublishable.has(toHex(branchId))) return;
      unpublishable.add(toHex(branchId));
      log({ event: "not-published", branch: name, branchId: toHex(branchId), head: toHex(head), reason: why }, `not publishing ${name}: ${why}, so peers refuse its heads`);
      return;
    }
    // Named by its head commit (short, like git), as the receiver's lines name it.
    const commit = headCommitOf(repo, head);
    log(
      { event: "published", branch: name, branchId: toHex(branchId), head: commit ? toHex(commit) : null, meta: toHex(head) },
      `published ${name} at commit ${commit ? toHex(commit).slice(0, 12) : "(empty)"}`,
    );
  };
  const repo = new Repository(pile, key);
  const names = new Map<string, string>();

  let sync: TeamSync;
  try {
    // TeamSync does what a sync does beyond the node: team policy, capability wait, merge policy
    // (remote heads into local branches), a flush after each round, and a round on every
    // delivery, every change of the pile file and every second.
    sync = await TeamSync.start({
      store: pile,
      key,
      teamRoot,
      policy,
      capability: capHandleOf(opts),
      direction,
      // Without --listen: every interface on the fixed port pair, a random port where it is taken.
      ...(listen.length ? { listen } : { listen: SYNC_LISTEN, listenFallback: true }),
      ...(opts.directOnly ? { directOnly: true } : {}),
      peers,
      ...(opts.remember === false ? {} : { addressBook: addressBookPath(path) }),
      controlSocket: controlSocketPath(path),
      mdns: opts.mdns ?? false,
      ...(relays.length ? { relays } : {}),
      ...(opts.relayServer ? { relayServer: opts.relayServer } : {}),
      republishMs: republishSeconds * 1000,
      fetch: fetching,
      ...serving,
      merge: opts.merge !== false,
      ...(wantedBranches.size ? { branches: [...wantedBranches] } : {}),
      watchFile: path,
      onRound: judgeOwn,
      onEvent: (e: TeamSyncEvent) => {
        if (e.type === "published") announcePublished(e.branchId, e.head);
        else if (e.type === "applied") logApplied(e.remote, e.result);
        else if (e.type === "merged") logMerged(e.remote, e.outcome);
        else if (e.type === "error") log({ event: "error", error: e.error.message }, `error: ${e.error.message}`);
        else if (isReachEvent(e)) logReach(e, log);
        else logEvent(e, log, policy, !opts.json && process.stdout.isTTY !== true);
      },
    });
  } catch (err) {
    pile.close();
    syncLock.release();
    if (err instanceof ListenError) throw new CliError(err.message);
    throw err;
  }
  shrinkAfterStartup();

  function logApplied(remote: RemoteHead, result: TrackingResult): void {
    const publisher = peerIdFromKey(remote.publisher).toString();
    if (result.status === "rejected") {
      log({ event: "rejected", publisher, reason: result.reason }, `rejected head from ${publisher}: ${result.reason}`);
      return;
    }
    if (result.status !== "applied") return;
    const blobs = pile.reader().len;
    log(
      { event: "received", branch: result.name, publisher, tracking: toHex(result.trackingId), head: result.head ? toHex(result.head) : null, blobs, latencyMs: Date.now() - remote.receivedAt },
      `received ${result.name} at commit ${result.head ? toHex(result.head).slice(0, 12) : "(empty)"} from ${publisher.slice(0, 16)}… → tracking ${toHex(result.trackingId).slice(0, 12)}… (${plural(blobs, "blob")} in pile)`,
    );
  }

  function logMerged(remote: RemoteHead, outcome: MergeOutcome): void {
    if (outcome.status === "failed") {
      const publisher = peerIdFromKey(remote.publisher).toString();
      log({ event: "merge-failed", branch: outcome.name, publisher, error: outcome.error }, `could not merge ${outcome.name} from ${publisher}: ${outcome.error}`);
      return;
    }
    if (outcome.kind === "up-to-date") return;
    // Paths both sides changed: one version stays, the other becomes a conflict copy (file-tree.ts).
    const conflicts = outcome.kind === "merge" ? treeAt(pile.reader(), outcome.head).conflicts : [];
    log(
      { event: "merged", branch: outcome.name, branchId: toHex(outcome.branch), kind: outcome.kind, head: toHex(outcome.head), conflicts: conflicts.map((c) => ({ path: c.path, copy: c.copy.path })) },
      [`merged into local ${outcome.name}: ${outcome.kind} (head ${toHex(outcome.head).slice(0, 12)})`, ...conflicts.map(describeConflict)].join("\n"),
    );
  }

  // Last resort: the node's own background work reports its failures as events, but a rejection
  // nobody handled (in a library underneath, say) must cost one logged line, not the sync.
  const unhandled = (reason: unknown) => {
    const error = (reason instanceof Error ? reason.message : String(reason)).split("\n")[0];
    log({ event: "error", error: `unhandled: ${error}` }, `error (ignored, sync goes on): ${error}`);
  };
  process.on("unhandledRejection", unhandled);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await sync.stop();
  process.off("unhandledRejection", unhandled);
  pile.close();
  syncLock.release();
  log({ event: "stopped" }, "stopped");
  return 0;
}

const REACH_EVENTS = new Set(["reservation", "reservation-refused", "path", "reachability", "hole-punch"]);
const isReachEvent = (e: TeamSyncEvent): e is ReachEvent => REACH_EVENTS.has(e.type);

function logReach(e: ReachEvent, log: (event: Record<string, unknown>, text: string) => void): void {
  const { type, ...fields } = e;
  switch (e.type) {
    case "reservation":
      log(
        { event: type, ...fields },
        e.ok ? `reserved a slot on relay ${e.relay}; reachable through it at\n${e.addrs.map((a) => `  ${a}`).join("\n")}` : `no reservation on relay ${e.relay}: ${e.error ?? "refused"} (trying again)`,
      );
      break;
    case "reservation-refused":
      log({ event: type, ...fields }, `refused a relay reservation from ${e.peer}: no verified team capability`);
      break;
    case "path":
      log({ event: type, ...fields }, `connection to ${e.peer}: ${e.path}${e.via ? ` through relay ${e.via}` : ""} (${e.transport})`);
      break;
    case "hole-punch":
      log(
        { event: type, ...fields },
        e.direct ? `hole punching to ${e.peer}: connected directly at ${e.addr}` : `hole punching to ${e.peer} failed (a NAT maps each destination to its own port, or drops the attempt); staying relayed`,
      );
      break;
    case "reachability":
      log(
        { event: type, ...fields },
        e.reachable ? `reachable directly at ${e.public.join(", ")}` : `not reachable directly${e.relayed.length ? `; reachable through relays at ${e.relayed.join(", ")}` : " (no public address; give --relay to be reachable through a team relay)"}`,
      );
      break;
  }
}

/** How often a long fetch's progress is written when output is not a terminal. */
const QUIET_PROGRESS_MS = 10_000;

function logEvent(e: SyncEvent, log: (event: Record<string, unknown>, text: string) => void, policy: TeamPolicy, quiet: boolean): void {
  switch (e.type) {
    case "listening": {
      // What a teammate on another machine can dial (loopback reaches this machine only).
      const share = e.addrs.filter((a) => !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a)).map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${e.peerId}`));
      const text = share.length
        ? `listening as ${e.peerId}\nteammates can dial:\n${share.map((a) => `  ${a}`).join("\n")}`
        : `listening as ${e.peerId} on this machine only (not reachable from other machines)\n${e.addrs.map((a) => `  ${a}`).join("\n")}`;
      log({ event: "listening", peerId: e.peerId, addrs: e.addrs, share }, text);
      break;
    }
    case "fetched":
      log({ event: "fetched", ...e.summary, proven: e.proven, publisher: e.publisher, head: e.head }, `fetched ${plural(e.summary.blobs, "blob")} (${plural(e.summary.bytes, "byte")}) from ${e.publisher.slice(0, 16)}… in ${e.summary.ms.toFixed(1)} ms`);
      break;
    case "fetch-progress": {
      const p = e.progress;
      // Written to a file or pipe, a long fetch says how far it is every 10 s (events come every second).
      if (quiet && Math.floor(e.ms / QUIET_PROGRESS_MS) === Math.floor((e.ms - 1000) / QUIET_PROGRESS_MS)) break;
      const { done, total, growing } = fetchEstimate(p);
      log(
        { event: "fetch-progress", publisher: e.publisher, head: e.head, ...p, estimatedBytes: Math.round(total), ms: e.ms },
        `fetching from ${e.publisher.slice(0, 16)}…: ${describeBytes(done, total, e.ms / 1000, { approximate: true, growing })} (${p.stored}/${p.discovered} blobs)`,
      );
      break;
    }
    case "fetch-failed":
      log(
        { event: "fetch-failed", publisher: e.publisher, error: e.error, retryInMs: e.retryInMs ?? null },
        `fetch from ${e.publisher} failed: ${e.error}${e.retryInMs === undefined ? "" : ` (trying again in ${e.retryInMs / 1000} s)`}`,
      );
      break;
    case "head-refused":
      log(
        { event: "head-refused", publisher: e.publisher, branchId: e.branchId, head: e.head, reason: e.reason },
        `refused head ${e.head.slice(0, 16)}… of branch ${e.branchId} from ${e.publisher}: ${e.reason}`,
      );
      break;
    case "dial-failed":
      log({ event: "dial-failed", addr: e.addr, error: e.error, retryInMs: e.retryInMs }, `could not reach ${e.addr}: ${e.error} (trying again in ${e.retryInMs / 1000} s)`);
      break;
    case "connected":
      log({ event: "connected", addr: e.addr, peer: e.peer }, `connected to ${e.addr}`);
      break;
    case "auth": {
      const refusal = e.accepted ? undefined : (e.refusal ?? policy.refusalFor(e.remoteKey));
      const reason = e.accepted ? "" : !e.presented ? "no capability presented" : refusal ? describeRefusal(refusal) : "refused";
      log(
        { event: "auth", peer: e.peer, accepted: e.accepted, reason, ...refusalFields(refusal) },
        e.accepted ? `accepted capability of ${e.peer}` : `refused peer ${e.peer}: ${reason}`,
      );
      break;
    }
    case "refused-by": {
      const why = e.refusal ? describeRefusal(e.refusal) : "it gave no reason";
      log(
        { event: "refused-by", peer: e.peer, reason: why, retrying: e.retrying, ...refusalFields(e.refusal) },
        `peer ${e.peer} refused our capability: ${why}${e.retrying ? " (trying again once our capability chain is complete)" : " (not trying again)"}`,
      );
      break;
    }
    case "access-ended": {
      const why = describeRefusal(e.refusal);
      log({ event: "access-ended", peer: e.peer, reason: why, connections: e.connections, ...refusalFields(e.refusal) }, `cut off peer ${e.peer}: ${why} (closed ${plural(e.connections, "connection")})`);
      break;
    }
    case "revocation": {
      const on = e.atNs === undefined ? "" : ` on ${formatInstant(e.atNs)}`;
      log({ event: "revocation", target: toHex(e.target), peer: e.peer, from: e.from, ...(e.atNs === undefined ? {} : { at: formatInstant(e.atNs) }) }, `learned that ${e.peer} was revoked${on} (from ${e.from})`);
      break;
    }
    case "gossip-dropped":
      log(
        { event: "gossip-dropped", reason: e.reason, publisher: e.publisher ?? null },
        e.publisher ? `dropped a head from ${e.publisher}: ${e.reason}` : `dropped a head announcement: ${e.reason}`,
      );
      break;
    case "head-pushed":
      // An accepted push is the normal case; a refused or failed one explains a slower arrival.
      if (e.result !== "accepted") log({ event: "head-pushed", peer: e.peer, branchId: e.branchId, head: e.head, result: e.result }, `pushing head ${e.head.slice(0, 16)}… to ${e.peer.slice(0, 16)}… ${e.result} (gossip still carries it)`);
      break;
    case "warning":
      log({ event: "warning", message: e.message }, `warning: ${e.message}`);
      break;
    case "peer-error": {
      const { type: _, ...fields } = e;
      const text = !e.peer
        ? `${plural(e.count, "error")} from ${plural(e.peers ?? 0, "further peer")} in the last interval (one line per peer is kept per interval)`
        : e.count > 1
          ? `peer ${e.peer}: ${plural(e.count, "more error")} in the last interval (last: ${e.error})`
          : `peer ${e.peer}: ${e.error}`;
      log({ event: "peer-error", ...fields }, text);
      break;
    }
  }
}

/** The refusal's kind and instant, for --json events. */
function refusalFields(refusal: Refusal | undefined): Record<string, unknown> {
  if (!refusal) return {};
  return { refusal: refusal.kind, ...(refusal.atNs === undefined ? {} : { at: formatInstant(refusal.atNs) }) };
}

/** The head commit named by a branch-metadata blob, if it can be read. */
function headCommitOf(repo: Repository, metaHandle: Uint8Array): Uint8Array | undefined {
  const bytes = repo.store.reader().get(metaHandle);
  try {
    return bytes ? parseBranchMeta(bytes).head : undefined;
  } catch {
    return undefined;
  }
}

function branchName(repo: Repository, metaHandle: Uint8Array): string | undefined {
  const reader = repo.store.reader();
  const bytes = reader.get(metaHandle);
  if (!bytes) return undefined;
  try {
    const meta = parseBranchMeta(bytes);
    const nameBytes = meta.name ? reader.get(meta.name) : undefined;
    return nameBytes ? decodeLongString(nameBytes) : undefined;
  } catch {
    return undefined;
  }
}

export async function runPull(path: string, remote: string, opts: TeamOptions & FetchFlags & { branch: string; key?: string; json?: boolean }): Promise<number> {
  // Checked before the pile is opened: a command that fails on its arguments touches nothing.
  const { peerId } = address(remote);
  const { limits, window, idleMs } = fetchSettings(opts);
  if (!peerId) throw new CliError(`${remote}: the address must end in /p2p/<peer id> so the peer can be authenticated`);
  if (!peerPublicKey(peerId)) throw new CliError(`${remote}: not an Ed25519 peer id`);
  const pile = openPile(path);
  const tty = process.stderr.isTTY && !opts.json;
  const started = performance.now();
  try {
    const pulled = await pullBranch({
      store: pile,
      key: signingKey(opts, path),
      from: remote,
      branch: opts.branch,
      capability: capHandleOf(opts),
      fetch: { limits, ...(window ? { window } : {}), ...(idleMs ? { idleMs } : {}) },
      onProgress: (p) => {
        if (!tty) return;
        const secs = (performance.now() - started) / 1000;
        const { done, total, growing } = fetchEstimate(p);
        process.stderr.write(`\r\x1b[K${describeBytes(done, total, secs, { approximate: true, growing })} (${p.stored}/${p.discovered} blobs)`);
      },
    });
    if (tty) process.stderr.write("\n");
    pile.flush();
    const { summary } = pulled;
    const out = { branch: opts.branch, status: pulled.status, tracking: toHex(pulled.trackingId), blobs: summary.blobs, bytes: summary.bytes, requests: summary.requests, ms: Math.round(summary.ms) };
    if (opts.json) console.log(JSON.stringify(out));
    else console.log(`pulled ${opts.branch}: ${plural(summary.blobs, "blob")} (${plural(summary.bytes, "byte")}) in ${out.ms} ms; tracking branch ${out.tracking} ${pulled.status}`);
    return 0;
  } catch (err) {
    if (!(err instanceof PullError)) throw err;
    const refusal = err.refusal;
    const hint = err.code === "auth-rejected" && (!refusal || refusal.kind === "no-capability" || refusal.kind === "broken-chain") ? " (set --cap / TRIBLE_TEAM_CAP to a capability issued by its team)" : "";
    throw new CliError(`${err.message}${hint}`);
  } finally {
    pile.close();
  }
}
