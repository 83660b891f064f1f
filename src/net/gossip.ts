/**
 * Branch-head gossip: 81-byte HEAD frames (FORMATS §9.2) on one gossipsub topic per team.
 *
 * The reference's frames are unsigned; here gossipsub signs every message with the originating
 * peer's libp2p key (StrictSign), and a frame is accepted only if that signer's Ed25519 key equals
 * the frame's publisher field and the caller's `admit` check (a valid capability) passes.
 * The last frame of every branch we published is re-sent periodically for late joiners.
 */
import { bytesEqual, toHex } from "../core/bytes.ts";
import type { BranchId, Hash } from "../core/store.ts";
import { describe, netLogger } from "./log.ts";

const log = netLogger("gossip");

export const HEAD_FRAME_LEN = 81;
export const HEAD_FRAME_TAG = 0x01;
export const DEFAULT_REPUBLISH_MS = 30_000;
/**
 * When a peer joins the topic we re-send at once and again after these delays: gossipsub silently
 * drops messages to a peer whose outbound stream is still opening, which it often is when its
 * subscription arrives.
 */
const WELCOME_RESENDS_MS = [150, 600, 2000];

export interface HeadFrame {
  branchId: BranchId;
  /** Handle of the branch-metadata blob. */
  head: Hash;
  /** Publisher's Ed25519 public key. */
  publisher: Uint8Array;
}

export function encodeHeadFrame(frame: HeadFrame): Uint8Array {
  if (frame.branchId.length !== 16 || frame.head.length !== 32 || frame.publisher.length !== 32) {
    throw new Error("head frame: branch id must be 16 bytes, head and publisher 32 bytes");
  }
  const out = new Uint8Array(HEAD_FRAME_LEN);
  out[0] = HEAD_FRAME_TAG;
  out.set(frame.branchId, 1);
  out.set(frame.head, 17);
  out.set(frame.publisher, 49);
  return out;
}

/** Decodes a frame; returns null for anything that is not exactly a HEAD frame (as receivers must ignore it). */
export function decodeHeadFrame(bytes: Uint8Array): HeadFrame | null {
  if (bytes.length !== HEAD_FRAME_LEN || bytes[0] !== HEAD_FRAME_TAG) return null;
  return {
    branchId: bytes.slice(1, 17),
    head: bytes.slice(17, 49),
    publisher: bytes.slice(49, 81),
  };
}

/** The gossipsub topic of a team: derived from the team-root public key. */
export function teamTopic(teamRoot: Uint8Array): string {
  return `/tribles/heads/1/${toHex(teamRoot)}`;
}

/** The slice of the gossipsub service this module uses. */
export interface PubSubLike {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  publish(topic: string, data: Uint8Array): Promise<unknown>;
  addEventListener(type: "message", listener: (evt: CustomEvent<GossipMessage>) => void): void;
  removeEventListener(type: "message", listener: (evt: CustomEvent<GossipMessage>) => void): void;
}

export interface GossipMessage {
  type: "signed" | "unsigned";
  topic: string;
  data: Uint8Array;
  /** Signing key of the message's originator (signed messages only). */
  key?: { raw: Uint8Array; type?: string };
}

export interface HeadGossipOptions {
  pubsub: PubSubLike;
  teamRoot: Uint8Array;
  /** Our Ed25519 public key: the publisher field of our frames. */
  self: Uint8Array;
  /** Whether a frame from this (authenticated) publisher may be acted on, e.g. it holds a valid capability. */
  admit?: (frame: HeadFrame) => boolean | Promise<boolean>;
  /** Called for each admitted frame from another peer. */
  onHead: (frame: HeadFrame) => void;
  /** Called for each dropped frame, with the reason (for logs and tests). */
  onDrop?: (reason: string, frame: HeadFrame | null) => void;
  republishMs?: number;
}

export class HeadGossip {
  readonly topic: string;
  /** Last frame published per branch (keyed by the branch id's bytes, 16 chars latin1). */
  private readonly lastPublished = new Map<string, Uint8Array>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly welcomeTimers = new Set<ReturnType<typeof setTimeout>>();
  private welcomed = 0;
  private acceptedFrames = 0;
  private readonly delayedSends = new Set<ReturnType<typeof setTimeout>>();
  /** Runs in the background of the pubsub service: any failure becomes a dropped frame, never a rejection. */
  private readonly listener = (evt: CustomEvent<GossipMessage>) =>
    void this.receive(evt.detail).catch((err: unknown) => this.opts.onDrop?.(`could not handle a head announcement: ${errorText(err)}`, null));

  constructor(private readonly opts: HeadGossipOptions) {
    this.topic = teamTopic(opts.teamRoot);
  }

  start(): void {
    this.opts.pubsub.addEventListener("message", this.listener);
    this.opts.pubsub.subscribe(this.topic);
    this.timer = setInterval(() => void this.republish(), this.opts.republishMs ?? DEFAULT_REPUBLISH_MS);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of [...this.welcomeTimers, ...this.delayedSends]) clearTimeout(t);
    this.welcomeTimers.clear();
    this.delayedSends.clear();
    this.opts.pubsub.removeEventListener("message", this.listener);
    this.opts.pubsub.unsubscribe(this.topic);
  }

  /**
   * Publishes a branch head (after `delayMs`, when given) and remembers it for periodic re-sending
   * at once, so a later head of the branch is never re-sent in its place.
   */
  async publish(branchId: BranchId, head: Hash, delayMs = 0): Promise<void> {
    const frame = encodeHeadFrame({ branchId, head, publisher: this.opts.self });
    this.lastPublished.set(Buffer.from(branchId).toString("latin1"), frame);
    if (delayMs <= 0) return this.send(frame);
    const t = setTimeout(() => {
      this.delayedSends.delete(t);
      void this.send(frame);
    }, delayMs);
    t.unref?.();
    this.delayedSends.add(t);
  }

  /** Stops re-sending a branch (e.g. it was deleted). */
  forget(branchId: BranchId): void {
    this.lastPublished.delete(Buffer.from(branchId).toString("latin1"));
  }

  /** A peer joined the topic: re-send our heads now and a few times shortly after (see WELCOME_RESENDS_MS). */
  welcome(): void {
    this.welcomed++;
    void this.republish();
    if (this.welcomeTimers.size > 0) return;
    for (const ms of WELCOME_RESENDS_MS) {
      const t = setTimeout(() => {
        this.welcomeTimers.delete(t);
        void this.republish();
      }, ms);
      t.unref?.();
      this.welcomeTimers.add(t);
    }
  }

  /** Peers welcomed so far (calls of `welcome`), and the welcome re-sends still to come: tests wait on these instead of sleeping past them. */
  get welcomes(): { seen: number; pending: number } {
    return { seen: this.welcomed, pending: this.welcomeTimers.size };
  }

  /** Frames from other peers admitted and handed on (gossiped or pushed) so far: tests wait on it instead of sleeping. */
  get accepted(): number {
    return this.acceptedFrames;
  }

  /** Re-sends the last frame of every branch we published. */
  async republish(): Promise<void> {
    for (const frame of this.lastPublished.values()) await this.send(frame);
  }

  private async send(frame: Uint8Array): Promise<void> {
    try {
      await this.opts.pubsub.publish(this.topic, frame);
    } catch (err) {
      // No subscribed peers yet: the periodic republish reaches them once they join.
      log("publishing a head frame failed: %s", describe(err));
    }
  }

  private async receive(msg: GossipMessage): Promise<void> {
    if (msg.topic !== this.topic) return;
    const frame = decodeHeadFrame(msg.data);
    if (frame === null) return this.opts.onDrop?.("not a HEAD frame", frame);
    if (msg.type !== "signed" || !msg.key) return this.opts.onDrop?.("unsigned gossip message", frame);
    await this.accept(frame, msg.key.raw);
  }

  /**
   * A HEAD frame pushed directly by a peer (pile-sync's PUSH_HEAD), `sender` being the key the
   * transport authenticated: admitted by the same rules as gossip and delivered like it. True when
   * it was delivered.
   */
  receivePushed(frame: HeadFrame, sender: Uint8Array): Promise<boolean> {
    return this.accept(frame, sender);
  }

  /** The checks every received frame passes: sent by its publisher, not by us, admitted. */
  private async accept(frame: HeadFrame, sender: Uint8Array): Promise<boolean> {
    const drop = (reason: string) => {
      this.opts.onDrop?.(reason, frame);
      return false;
    };
    if (!bytesEqual(sender, frame.publisher)) return drop("publisher is not the signing sender");
    if (bytesEqual(frame.publisher, this.opts.self)) return false;
    let admitted: boolean;
    try {
      admitted = !this.opts.admit || (await this.opts.admit(frame));
    } catch (err) {
      return drop(`could not check the publisher's capability: ${errorText(err)}`);
    }
    if (!admitted) return drop("publisher has no valid capability");
    this.acceptedFrames++;
    try {
      this.opts.onHead(frame);
    } catch (err) {
      return drop(`could not act on the head: ${errorText(err)}`);
    }
    return true;
  }
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
