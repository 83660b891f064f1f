/**
 * `tribles pile net doctor`: the checks a user runs when nothing arrives, in the order that
 * explains it (am I listening where teammates can reach me; is the relay reachable and do I hold
 * a reservation on it; can I find PEER, reach it directly, through a relay; does it accept my
 * capability), with a verdict naming the first failing step and its fix. Run inside a sync (over
 * its control socket, with its node) or, when none runs, with a short-lived node of our key.
 */
import type { Connection, PeerId } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { describeRefusal } from "../auth/refusal.ts";
import type { SigningKey } from "../core/ed25519.ts";
import type { Hash, Store } from "../core/store.ts";
import { AddressBook, RELAY_HOP_PROTOCOL } from "./address-book.ts";
import { AuthRejectedError, type Credentials, SyncClient } from "./client.ts";
import { type DialTarget, findPeer, parseDialTarget } from "./dial-target.ts";
import { credentialsFor } from "./credentials.ts";
import { createHost, type Host, isRelayedAddr, PULL_QUIC, SYNC_PORT } from "./host.ts";
import { relayOf } from "./status.ts";

/** The protocol a node that can be reached through relays serves (circuit relay v2's stop side). */
export const RELAY_STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";
/** Each dial a check makes gives up after this long. */
export const DOCTOR_DIAL_MS = 10_000;

export type CheckStatus = "ok" | "fail" | "warn" | "skip";

export interface Check {
  step: "listening" | "reachability" | "relay" | "reservation" | "peer-address" | "direct" | "relayed" | "capability";
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  checks: Check[];
  /** ok: no check failed; otherwise the first failing step, what it found and the fix. */
  verdict: { ok: boolean; step?: Check["step"]; message: string; fix?: string };
}

export interface DoctorContext {
  host: Host;
  credentials: Credentials;
  book?: AddressBook;
  directOnly?: boolean;
  /** Whether `host` is the pile's running sync (false: a short-lived node of the doctor's own). */
  syncRunning: boolean;
}

const isLoopback = (addr: Multiaddr) => {
  const ip = addr.getComponents().find((c) => c.name === "ip4" || c.name === "ip6")?.value ?? "";
  return ip.startsWith("127.") || ip === "::1";
};

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!;

/** Runs the checks (those about PEER only when it is given: a multiaddr, PeerId or public key). */
export async function runDoctor(ctx: DoctorContext, peer?: string): Promise<DoctorReport> {
  const checks: Check[] = [];
  const { host } = ctx;
  checks.push(listening(ctx));
  const ownAddrs = host.getMultiaddrs();
  const relayedAddrs = ownAddrs.filter(isRelayedAddr);
  checks.push(
    relayedAddrs.length > 0
      ? { step: "reachability", status: "ok", detail: `reachable through relay: ${relayedAddrs.map(String).join(", ")}` }
      : { step: "reachability", status: "skip", detail: "not tested: this node runs no AutoNAT, so whether other networks can dial you is unknown (a teammate's doctor on you tells)" },
  );
  const relays = await relayChecks(ctx, checks);
  if (peer !== undefined) await peerChecks(ctx, parseDialTarget(peer), relays, checks);
  const failed = checks.find((c) => c.status === "fail");
  const warned = checks.filter((c) => c.status === "warn").map((c) => c.step);
  const but = warned.length ? ` (but see the warning${warned.length === 1 ? "" : "s"}: ${warned.join(", ")})` : "";
  const verdict = failed
    ? { ok: false, step: failed.step, message: `${failed.step}: ${failed.detail}`, ...(failed.fix ? { fix: failed.fix } : {}) }
    : { ok: true, message: `${peer ? "no failing check: you can reach that peer and it accepts your capability" : "no failing check"}${but}` };
  return { checks, verdict };
}

function listening(ctx: DoctorContext): Check {
  if (!ctx.syncRunning) {
    return { step: "listening", status: "fail", detail: "no sync is running for this pile: nothing listens for teammates or publishes your commits", fix: "start `tribles pile net sync PILE` (and keep it running)" };
  }
  const addrs = ctx.host.getMultiaddrs();
  const shared = addrs.filter((a) => !isLoopback(a) && !isRelayedAddr(a));
  if (shared.length > 0) return { step: "listening", status: "ok", detail: `listening on ${shared.map(String).join(", ")}` };
  if (addrs.some(isRelayedAddr)) return { step: "listening", status: "ok", detail: "listening through a relay only" };
  // A warning, not a failure: peers that can dial us are not needed when we can dial them.
  return {
    step: "listening",
    status: addrs.length ? "warn" : "fail",
    detail: addrs.length ? `listening on this machine only (${addrs.map(String).join(", ")}): no other machine can dial you` : "listening on no address: no peer can dial you",
    fix: `restart sync without --listen (all interfaces, port ${SYNC_PORT}) or with --listen /ip4/0.0.0.0/tcp/${SYNC_PORT}`,
  };
}

/** The relays we know (remembered, or connected ones serving relaying), each checked; returns those reached. */
async function relayChecks(ctx: DoctorContext, checks: Check[]): Promise<{ id: PeerId; connection: Connection }[]> {
  const { host } = ctx;
  const known = new Map<string, DialTarget>();
  for (const t of ctx.book?.targets() ?? []) if (ctx.book?.get(t.text)?.role === "relay") known.set(t.text, t);
  for (const peer of host.getPeers()) {
    if (known.has(peer.toString())) continue;
    try {
      if ((await host.peerStore.get(peer)).protocols.includes(RELAY_HOP_PROTOCOL)) known.set(peer.toString(), { text: peer.toString(), peerId: peer, addrs: [] });
    } catch {}
  }
  if (known.size === 0) {
    checks.push({ step: "relay", status: "skip", detail: "no relay configured (none remembered, none connected)" });
    return [];
  }
  const reached: { id: PeerId; connection: Connection }[] = [];
  for (const target of known.values()) {
    const id = target.peerId!;
    try {
      const connection = host.getConnections(id).find((c) => c.status === "open") ?? (await host.dial(target.addrs.length ? target.addrs : id, { signal: AbortSignal.timeout(DOCTOR_DIAL_MS) }));
      reached.push({ id, connection });
      checks.push({ step: "relay", status: "ok", detail: `relay ${id} reachable at ${connection.remoteAddr}` });
    } catch (err) {
      checks.push({ step: "relay", status: "fail", detail: `relay ${id} unreachable: ${message(err)}`, fix: "check that `tribles relay` runs on that machine and that its port is open to you" });
    }
  }
  const canReserve = host.getProtocols().includes(RELAY_STOP_PROTOCOL);
  for (const { id } of reached) {
    const reserved = host.getMultiaddrs().some((a) => relayOf(a) === id.toString());
    if (reserved) checks.push({ step: "reservation", status: "ok", detail: `holding a reservation on relay ${id}` });
    else if (!canReserve) checks.push({ step: "reservation", status: "skip", detail: "this node has no circuit relay transport, so it cannot reserve a relay slot" });
    else checks.push({ step: "reservation", status: "fail", detail: `no reservation on relay ${id}`, fix: "make sure your capability is of the relay's team (the relay serves team members only)" });
  }
  return reached;
}

async function peerChecks(ctx: DoctorContext, target: DialTarget, relays: { id: PeerId; connection: Connection }[], checks: Check[]): Promise<void> {
  const { host } = ctx;
  const id = target.peerId;
  // Every address we can learn: given, remembered, in the peer store, and through peer routing.
  const addrs = new Map<string, Multiaddr>();
  for (const a of target.addrs) addrs.set(a.toString(), a);
  if (id) {
    for (const a of ctx.book?.get(id.toString())?.addrs ?? []) addrs.set(a, multiaddr(a));
    try {
      for (const a of (await host.peerStore.get(id)).addresses) addrs.set(a.multiaddr.toString(), a.multiaddr);
    } catch {}
    if (addrs.size === 0) for (const a of await findPeer(host, id)) addrs.set(a.toString(), a);
  }
  const direct = [...addrs.values()].filter((a) => !isRelayedAddr(a));
  const connected = id ? host.getConnections(id).filter((c) => c.status === "open") : [];
  if (addrs.size === 0 && connected.length === 0) {
    checks.push({
      step: "peer-address",
      status: "fail",
      detail: `no address known for ${target.text}: not remembered, and peer routing found none`,
      fix: "ask the peer for an address from its sync's `listening` lines and pass --peers /ip4/…/p2p/…, or have both of you use one relay",
    });
    return;
  }
  checks.push({ step: "peer-address", status: "ok", detail: `${addrs.size} address${addrs.size === 1 ? "" : "es"} known${connected.length ? ", connected now" : ""}` });
  let reached: PeerId | undefined;
  const directNow = connected.find((c) => !isRelayedAddr(c.remoteAddr));
  if (directNow) {
    reached = directNow.remotePeer;
    checks.push({ step: "direct", status: "ok", detail: `connected directly at ${directNow.remoteAddr}` });
  } else if (direct.length === 0) {
    checks.push({ step: "direct", status: "skip", detail: "no direct address known for it" });
  } else {
    try {
      const c = await host.dial(direct, { signal: AbortSignal.timeout(DOCTOR_DIAL_MS) });
      reached = c.remotePeer;
      checks.push({ step: "direct", status: "ok", detail: `reached directly at ${c.remoteAddr}` });
    } catch (err) {
      checks.push({
        step: "direct",
        status: relays.length ? "warn" : "fail",
        detail: `cannot reach it directly (${direct.map(String).join(", ")}): ${message(err)}`,
        fix: `is its sync running? If it is behind a NAT or firewall, open UDP and TCP port ${SYNC_PORT} to it, or have both of you use a team relay`,
      });
    }
  }
  const peerId = reached ?? id;
  if (ctx.directOnly) checks.push({ step: "relayed", status: "skip", detail: "not tried: --direct-only refuses relayed connections" });
  else if (relays.length === 0) checks.push({ step: "relayed", status: "skip", detail: "no relay configured" });
  else if (!host.getProtocols().includes(RELAY_STOP_PROTOCOL)) checks.push({ step: "relayed", status: "skip", detail: "this node has no circuit relay transport" });
  else if (peerId) {
    const circuits = relays.map(({ id: relay, connection }) => multiaddr(`${withPeer(connection.remoteAddr, relay)}/p2p-circuit/p2p/${peerId}`));
    try {
      const c = await host.dial(circuits, { signal: AbortSignal.timeout(DOCTOR_DIAL_MS) });
      reached ??= c.remotePeer;
      checks.push({ step: "relayed", status: "ok", detail: `reached through relay ${relayOf(c.remoteAddr)}` });
    } catch (err) {
      checks.push({ step: "relayed", status: "fail", detail: `cannot reach it through any relay: ${message(err)}`, fix: "the peer may hold no reservation on your relays: run doctor on its machine" });
    }
  }
  if (!reached) {
    if (!checks.some((c) => c.status === "fail")) checks.push({ step: "direct", status: "fail", detail: "cannot reach it by any path" });
    return;
  }
  await capabilityCheck(ctx, reached, checks);
}

/** Opens the pile-sync protocol to `peer` and presents our capability, as a sync does. */
async function capabilityCheck(ctx: DoctorContext, peer: PeerId, checks: Check[]): Promise<void> {
  let client: SyncClient | undefined;
  try {
    client = await SyncClient.connect(ctx.host, peer, ctx.credentials, AbortSignal.timeout(DOCTOR_DIAL_MS));
    checks.push({ step: "capability", status: "ok", detail: `${peer} accepts your capability` });
  } catch (err) {
    if (err instanceof AuthRejectedError) {
      checks.push({
        step: "capability",
        status: "fail",
        detail: `${peer} refuses your capability: ${err.refusal ? describeRefusal(err.refusal) : "it gave no reason"}`,
        fix: "ask a team admin for a capability (`tribles team invite YOUR_PUBLIC_KEY`) and pass it with --cap; check --team-root is the team's",
      });
    } else {
      checks.push({ step: "capability", status: "fail", detail: `could not speak the pile-sync protocol with ${peer}: ${message(err)}`, fix: "is it a tribles sync of a compatible version?" });
    }
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/** An address ending in /p2p/PEER (a connection's remote address may lack it). */
function withPeer(addr: Multiaddr, peer: PeerId): string {
  const text = addr.toString();
  return text.includes("/p2p/") ? text : `${text}/p2p/${peer}`;
}

/** What {@link doctorWithoutSync} needs: the pile's store (for our capability's chain), key and book. */
export interface StandaloneDoctorOptions {
  store: Store;
  key: SigningKey;
  capability: Hash | null;
  addressBook?: string;
  directOnly?: boolean;
  peer?: string;
}

/**
 * The doctor when no sync runs for the pile: a short-lived node of our key (listening nowhere)
 * dials the remembered peers and relays, so peer routing has someone to ask, then runs the checks.
 */
export async function doctorWithoutSync(opts: StandaloneDoctorOptions): Promise<DoctorReport> {
  const book = opts.addressBook ? AddressBook.load(opts.addressBook).book : undefined;
  const host = await createHost({ key: opts.key, listen: [], quic: PULL_QUIC, ...(opts.directOnly ? { directOnly: true } : {}) });
  try {
    await Promise.allSettled((book?.targets() ?? []).map((t) => host.dial(t.addrs.length ? t.addrs : t.peerId!, { signal: AbortSignal.timeout(DOCTOR_DIAL_MS) })));
    const ctx: DoctorContext = { host, credentials: credentialsFor(opts.store, opts.capability), directOnly: opts.directOnly ?? false, syncRunning: false, ...(book ? { book } : {}) };
    return await runDoctor(ctx, opts.peer);
  } finally {
    await host.stop();
  }
}
