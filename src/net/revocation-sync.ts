/**
 * Revocations travel like heads, so every member hears of one within a gossip hop or two and a
 * member that was offline hears of it on its first connection to any member:
 *
 * - pushed: a revocation we learn (from our pile, a peer, or gossip) is sent to every peer we hold
 *   an authenticated client for, with pile-sync's REVOCATIONS op;
 * - gossiped: and published on the team's revocation topic (gossipsub relays it to all members);
 * - exchanged: right after each AUTH we send the peer all the revocations we hold and take its own
 *   (REVOCATIONS answers with the server's). AUTH itself carries ours too, so a server refuses a
 *   revoked key even before the exchange.
 *
 * Every revocation received is verified by the policy (signed by the team root) before it is
 * stored or acted on; the wire bounds (LIMITS.maxRevocationBlobs per message, 512 bytes a blob,
 * MAX_REVOCATIONS_PER_BATCH verified per message) bound what a peer can make us check.
 */
import type { TeamPolicy } from "../auth/policy.ts";
import type { Revocation } from "../auth/revocations.ts";
import { toHex } from "../core/bytes.ts";
import type { SyncClient } from "./client.ts";
import type { GossipMessage, PubSubLike } from "./gossip.ts";
import { LIMITS } from "./wire.ts";
import { logged, netLogger } from "./log.ts";

const log = netLogger("revocations");

/** The revocation topic of a team. */
export function revocationTopic(teamRoot: Uint8Array): string {
  return `/tribles/revocations/1/${toHex(teamRoot)}`;
}

/** One revocation as a gossip message: len:u32 revocation, len:u32 sig blob. */
export function encodeRevocationMessage(rev: Revocation): Uint8Array {
  const out = new Uint8Array(8 + rev.revBlob.length + rev.sigBlob.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, rev.revBlob.length);
  out.set(rev.revBlob, 4);
  view.setUint32(4 + rev.revBlob.length, rev.sigBlob.length);
  out.set(rev.sigBlob, 8 + rev.revBlob.length);
  return out;
}

/** The two blobs of a revocation message, or null if it is not one (lengths bounded first). */
export function decodeRevocationMessage(data: Uint8Array): Uint8Array[] | null {
  const blobs: Uint8Array[] = [];
  let at = 0;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < 2; i++) {
    if (at + 4 > data.length) return null;
    const len = view.getUint32(at);
    if (len > LIMITS.maxRevocationBlobBytes || at + 4 + len > data.length) return null;
    blobs.push(data.slice(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return at === data.length ? blobs : null;
}

export interface RevocationSyncOptions {
  policy: TeamPolicy;
  pubsub: PubSubLike;
  teamRoot: Uint8Array;
  /** The clients to push a new revocation to (authenticated, open, to verified members). */
  clients: () => SyncClient[];
  /** Whether a peer (id text) is a verified member: only members are handed our revocations. */
  isMember: (peer: string) => boolean;
  /** For logs: a revocation learned, and from where ("pile", a peer id, "gossip"). */
  onLearned?: (rev: Revocation, from: string) => void;
}

export class RevocationSync {
  readonly topic: string;
  private stopped = false;
  private readonly listener = (evt: CustomEvent<GossipMessage>) => this.receive(evt.detail);

  constructor(private readonly opts: RevocationSyncOptions) {
    this.topic = revocationTopic(opts.teamRoot);
    opts.policy.onRevocation((rev, from) => this.spread(rev, from));
  }

  start(): void {
    this.opts.pubsub.addEventListener("message", this.listener);
    this.opts.pubsub.subscribe(this.topic);
  }

  stop(): void {
    this.stopped = true;
    this.opts.pubsub.removeEventListener("message", this.listener);
    this.opts.pubsub.unsubscribe(this.topic);
  }

  /** After AUTH: give the peer ours (when it is a verified member), take its own. */
  async exchange(client: SyncClient): Promise<void> {
    const theirs = await client.revocations(this.opts.isMember(client.peer) ? this.opts.policy.revocationBlobs() : []);
    if (theirs?.length && !this.stopped) this.learn(theirs, client.peer);
  }

  private learn(blobs: Uint8Array[], from: string): void {
    this.opts.policy.learnRevocations(blobs, from);
  }

  private receive(msg: GossipMessage): void {
    if (msg.topic !== this.topic || this.stopped) return;
    const blobs = decodeRevocationMessage(msg.data);
    if (blobs) this.learn(blobs, "gossip");
  }

  /** A revocation is new to us: tell everyone (each member does so once, when it first learns it). */
  private spread(rev: Revocation, from: string): void {
    this.opts.onLearned?.(rev, from);
    if (this.stopped) return;
    const blobs = [rev.revBlob, rev.sigBlob];
    for (const client of this.opts.clients().filter((c) => this.opts.isMember(c.peer))) void client.revocations(blobs).then((theirs) => theirs?.length && this.learn(theirs, client.peer));
    void this.opts.pubsub.publish(this.topic, encodeRevocationMessage(rev)).catch(logged(log, "gossiping a revocation"));
  }
}
