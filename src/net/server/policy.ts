/** What a pile-sync server asks of its embedder: who may read what, and what it reports. */
import type { Refusal } from "../../auth/refusal.ts";
import type { BlobReader, Hash } from "../../core/store.ts";
import type { AdmissionLimits } from "../admission.ts";
import type { AuthLimits } from "../auth-frame.ts";
import type { ServerBudget } from "../budget.ts";
import type { HeadFrame } from "../gossip.ts";

/** What an authenticated peer may read. `inScope` is only asked about blobs that are present. */
export interface Scope {
  inScope(hash: Hash, reader: BlobReader): boolean;
}

export interface AuthRequest {
  /** Handle of the peer's leaf capability sig blob. */
  capHandle: Hash;
  /** The peer's Ed25519 key, from the authenticated connection. */
  remoteKey: Uint8Array;
  /** Blobs of the capability chain sent along (v5 only; hashes verified). */
  chain: Uint8Array[];
  /** The peer's id, as text (for messages). */
  from?: string;
}

/** A refused AUTH, and why (sent to the peer as a reason code on v5). */
export interface Denied {
  refusal: Refusal;
}

export type AuthDecision = Scope | Denied | null;

export interface AccessPolicy {
  authorize(request: AuthRequest): Promise<AuthDecision> | AuthDecision;
  /** The verified capability chain blobs held for a key (served by CHAIN); none without it. */
  chainOf?(key: Uint8Array): Uint8Array[] | undefined;
  /** Every revocation blob known (served by REVOCATIONS). */
  revocationBlobs?(): Uint8Array[];
  /** Takes revocation blobs a peer sent (they are verified there). */
  learnRevocations?(blobs: Uint8Array[], from: string): unknown;
}

export const isScope = (d: AuthDecision): d is Scope => d !== null && typeof (d as Scope).inScope === "function";

/** A policy that lets every authenticated connection read everything (tests, single-user setups). */
export const openPolicy: AccessPolicy = { authorize: () => ({ inScope: () => true }) };

export interface ServerEvents {
  /** `capHandle`: the capability presented (all zeros when the peer presented none); `refusal`: why not accepted. */
  onAuth?(remoteKey: Uint8Array, accepted: boolean, capHandle: Hash, refusal?: Refusal): void;
  onError?(remote: string, error: Error): void;
  /** After each authorized request: its op and how many hashes it named (1 for v4 ops). */
  onRequest?(op: number, hashes: number): void;
  /** An inbound connection closed for not authenticating in time, or to make room (admission.ts). */
  onStrangerClosed?(remote: string, reason: string): void;
}

export interface ServerOptions {
  /** v5 ops answered like unknown ones (the stream is aborted): lets tests play an older server. */
  withoutOps?: readonly number[];
  /**
   * Admits and delivers a head pushed by `pusher` (the connection's authenticated key, equal to the
   * frame's publisher); true when delivered. Without it every push is refused.
   */
  onPushedHead?(frame: HeadFrame, pusher: Uint8Array): boolean | Promise<boolean>;
  /** Limits on inbound connections that have not authenticated (admission.ts). */
  admission?: Partial<AdmissionLimits>;
  /** What one peer may make the server spend (budget.ts; defaults SERVER_BUDGET). */
  budget?: Partial<ServerBudget>;
  /** Bounds on an AUTH frame before it is verified (auth-frame.ts; defaults AUTH_LIMITS). */
  auth?: Partial<AuthLimits>;
}
