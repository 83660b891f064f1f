/**
 * Setting up a team in code, as `tribles team create` and `team invite` do: a team root key that
 * signs an admin capability for its founder, and capabilities the founder issues to members. Each
 * capability is two blobs (the grant and its signature); store both where the holder syncs from,
 * and give the holder the signature blob's handle.
 */
import { SigningKey } from "../core/ed25519.ts";
import type { Id } from "../core/id.ts";
import type { Permission } from "./attributes.ts";
import { DAY_NS, issueCapability, type SignedBlob } from "./capability.ts";
import { nowTaiNs } from "../core/schemas.ts";

/** A new team: its root key (keep it secret; it revokes) and the founder's admin capability. */
export interface NewTeam {
  /** The root's secret key; its public key is the team root. */
  rootKey: SigningKey;
  /** The team root (the public key every capability chains up to). */
  teamRoot: Uint8Array;
  /** The founder's admin capability; `capability.sigHandle` is what the founder presents. */
  capability: SignedBlob;
}

/** Founds a team: a fresh root key issues `founder` an admin capability valid for `days` (default 365). */
export function createTeam(founder: Uint8Array, days = 365): NewTeam {
  const rootKey = SigningKey.generate();
  const now = nowTaiNs();
  const capability = issueCapability({ issuer: rootKey, subject: founder, perms: ["admin"], expires: { lower: now, upper: now + BigInt(days) * DAY_NS } });
  return { rootKey, teamRoot: rootKey.publicKey, capability };
}

/** Who to invite, with what, on whose authority. */
export interface InviteOptions {
  /** The issuer: an admin of the team (or the root key itself). */
  issuer: SigningKey;
  /** The issuer's own capability (absent when the issuer is the root key). */
  issuerCapability?: SignedBlob;
  /** The member's public key. */
  member: Uint8Array;
  /** What the member may do (default write, which includes read). */
  perms?: Permission[];
  /** Branch ids the grant is limited to (default: every branch). */
  branches?: Id[];
  /** Days until it expires (default 30); a capability stops verifying when its issuer's does. */
  days?: number;
}

/** Issues a member's capability; store its `blob` and `sigBlob`, and give the member `sigHandle`. */
export function inviteMember(options: InviteOptions): SignedBlob {
  const now = nowTaiNs();
  return issueCapability({
    issuer: options.issuer,
    subject: options.member,
    perms: options.perms ?? ["write"],
    ...(options.branches ? { branches: options.branches } : {}),
    expires: { lower: now, upper: now + BigInt(options.days ?? 30) * DAY_NS },
    ...(options.issuerCapability ? { parent: { capBlob: options.issuerCapability.blob, sigBlob: options.issuerCapability.sigBlob } } : {}),
  });
}
