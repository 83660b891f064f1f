/**
 * Why a capability was refused, in a form both sides can act on: a short kind (carried on the wire
 * as a code by the net layer), the instant it refers to (revoked on / expired on / valid from), and
 * plain words for people. Chain errors are mapped here so no class names reach a user.
 */
import { unixMsFromTaiNs } from "../core/schemas.ts";
import { ChainError } from "./capability.ts";

/** Why a capability was refused or stopped counting. */
export type RefusalKind =
  /** A key in the chain was revoked. */
  | "revoked"
  | "expired"
  | "not-yet-valid"
  /** The capability names another key as its subject. */
  | "wrong-key"
  /** Signatures do not verify, a parent is missing, the chain is malformed or grants more than its parent. */
  | "broken-chain"
  | "no-capability"
  /** The chain verifies but grants no read permission. */
  | "no-read";

/** A refusal of a capability: its kind, and the instant it refers to when known. */
export interface Refusal {
  kind: RefusalKind;
  /** TAI ns the refusal refers to (revocation, expiry or start of validity), when known. */
  atNs?: bigint;
  /** Technical detail for logs (may be empty). */
  detail?: string;
}

/** Refusals that the same capability will meet again: the refused side stops retrying on them. */
export function isPermanent(kind: RefusalKind): boolean {
  return kind !== "not-yet-valid";
}

/** `revokedAt` tells when a revoked key was revoked (the chain error names the key, not the time). */
export function refusalFromError(err: unknown, revokedAt?: (key: Uint8Array) => bigint | undefined): Refusal {
  if (!(err instanceof ChainError)) return { kind: "broken-chain", detail: err instanceof Error ? err.message : String(err) };
  const detail = err.message.slice(err.kind.length + 2);
  switch (err.kind) {
    case "Revoked":
      return withAt({ kind: "revoked", detail }, err.key && revokedAt?.(err.key));
    case "Expired":
      return withAt({ kind: "expired", detail }, err.atNs);
    case "NotYetValid":
      return withAt({ kind: "not-yet-valid", detail }, err.atNs);
    case "SubjectMismatch":
      return { kind: "wrong-key", detail };
    default:
      return { kind: "broken-chain", detail };
  }
}

function withAt(refusal: Refusal, atNs: bigint | undefined): Refusal {
  if (atNs !== undefined) refusal.atNs = atNs;
  return refusal;
}

/** An instant as an ISO date (UTC, to the second). */
export function formatInstant(ns: bigint): string {
  const date = new Date(unixMsFromTaiNs(ns));
  return Number.isNaN(date.getTime()) ? "an unprintable date" : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The refusal in plain words, e.g. "it was revoked on 2026-12-02T05:50:00Z". */
export function describeRefusal(refusal: Refusal): string {
  const on = refusal.atNs === undefined ? "" : ` on ${formatInstant(refusal.atNs)}`;
  switch (refusal.kind) {
    case "revoked":
      return `it was revoked${on}`;
    case "expired":
      return `it expired${on}`;
    case "not-yet-valid":
      return `it is not valid yet${refusal.atNs === undefined ? "" : ` (valid from ${formatInstant(refusal.atNs)})`}`;
    case "wrong-key":
      return "it was not issued to this key";
    case "broken-chain":
      return `its chain does not verify (forged or incomplete${refusal.detail ? `: ${refusal.detail}` : ""})`;
    case "no-capability":
      return "no capability was presented";
    case "no-read":
      return "it grants no read permission";
  }
}
