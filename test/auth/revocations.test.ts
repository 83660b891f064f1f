/**
 * Access that ends while a peer is connected: revocations learned from any source (verified before
 * they count), a revoked admin taking its delegates with it, and expiry at its instant (an
 * injected clock, no waiting).
 */
import { describe, expect, test } from "bun:test";
import { issueCapability, issueRevocation } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { manualClock } from "./manual-clock.ts";
import type { Refusal } from "../../src/auth/refusal.ts";
import { describeRefusal } from "../../src/auth/refusal.ts";
import { revocationPairs, verifyRevocation } from "../../src/auth/revocations.ts";
import { bytesEqual } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { nowTaiNs } from "../../src/core/schemas.ts";

const root = SigningKey.generate();
const branch = genId();
const SECOND = 1_000_000_000n;

function member(perms: ("read" | "write" | "admin")[], opts: { issuer?: SigningKey; parent?: ReturnType<typeof issueCapability>; upper?: bigint } = {}) {
  const key = SigningKey.generate();
  const now = nowTaiNs();
  const cap = issueCapability({
    issuer: opts.issuer ?? root,
    subject: key.publicKey,
    perms,
    ...(opts.upper ? { expires: { lower: now - SECOND, upper: opts.upper } } : {}),
    ...(opts.parent ? { parent: { capBlob: opts.parent.blob, sigBlob: opts.parent.sigBlob } } : {}),
  });
  return { key, cap, chain: [cap.sigBlob, cap.blob, ...(opts.parent ? [opts.parent.blob] : [])] };
}

function connect(policy: TeamPolicy, m: ReturnType<typeof member>) {
  return policy.authorize({ capHandle: m.cap.sigHandle, remoteKey: m.key.publicKey, chain: m.chain });
}

function watch(policy: TeamPolicy) {
  const lost: { key: Uint8Array; refusal: Refusal }[] = [];
  policy.onAccessLost((key, refusal) => lost.push({ key, refusal }));
  return lost;
}

describe("access ends while connected", () => {
  test("a revocation handed over by a peer is verified, stored, ends the key's access and is told to listeners once", () => {
    const store = new MemoryStore();
    const policy = new TeamPolicy(store, root.publicKey);
    const lost = watch(policy);
    const heard: string[] = [];
    policy.onRevocation((_rev, from) => heard.push(from));
    const bob = member(["write"]);
    expect(connect(policy, bob)).toHaveProperty("inScope");

    // One signed by someone other than the team root counts for nothing and is not stored.
    const forged = issueRevocation(SigningKey.generate(), bob.key.publicKey);
    expect(policy.learnRevocations([forged.blob, forged.sigBlob], "peer X")).toEqual([]);
    expect(store.reader().has(forged.sigHandle)).toBe(false);
    expect(policy.admits(bob.key.publicKey, branch)).toBe(true);

    const real = issueRevocation(root, bob.key.publicKey);
    expect(policy.learnRevocations([real.blob, real.sigBlob], "peer X")).toHaveLength(1);
    expect(policy.learnRevocations([real.blob, real.sigBlob], "peer Y")).toHaveLength(0);
    expect(store.reader().has(real.sigHandle)).toBe(true);
    expect(heard).toEqual(["peer X"]);
    expect(lost).toHaveLength(1);
    expect(bytesEqual(lost[0]!.key, bob.key.publicKey)).toBe(true);
    expect(lost[0]!.refusal.kind).toBe("revoked");
    expect(policy.admits(bob.key.publicKey, branch)).toBe(false);
    expect(connect(policy, bob)).toMatchObject({ refusal: { kind: "revoked" } });
    expect(describeRefusal(policy.refusalFor(bob.key.publicKey)!)).toMatch(/^it was revoked on \d{4}-/);
  });

  test("revoking an admin ends the access of every member it invited", () => {
    const policy = new TeamPolicy(new MemoryStore(), root.publicKey);
    const lost = watch(policy);
    const admin = member(["admin"]);
    const invited = member(["write"], { issuer: admin.key, parent: admin.cap });
    expect(connect(policy, invited)).toHaveProperty("inScope");
    const rev = issueRevocation(root, admin.key.publicKey);
    policy.learnRevocations([rev.blob, rev.sigBlob]);
    expect(lost.map((l) => bytesEqual(l.key, invited.key.publicKey))).toEqual([true]);
    expect(policy.admits(invited.key.publicKey, branch)).toBe(false);
  });

  test("a revocation sent along with AUTH is taken before the sender's own capability is checked", () => {
    const policy = new TeamPolicy(new MemoryStore(), root.publicKey);
    const victim = member(["write"]);
    expect(connect(policy, victim)).toHaveProperty("inScope");
    const carrier = member(["write"]);
    const rev = issueRevocation(root, victim.key.publicKey);
    const decision = policy.authorize({ capHandle: carrier.cap.sigHandle, remoteKey: carrier.key.publicKey, chain: [...carrier.chain, rev.blob, rev.sigBlob], from: "carrier" });
    expect(decision).toHaveProperty("inScope");
    expect(policy.admits(victim.key.publicKey, branch)).toBe(false);
  });

  test("a capability ends at its expiry instant: the timer fires then, not at the next check", () => {
    const now = nowTaiNs();
    const { clock, advance, pending } = manualClock(now);
    const policy = new TeamPolicy(new MemoryStore(), root.publicKey, { clock });
    const lost = watch(policy);
    const upper = now + 60n * SECOND;
    const bob = member(["write"], { upper });
    expect(connect(policy, bob)).toHaveProperty("inScope");
    expect(pending()).toBe(1);
    advance(59n * SECOND);
    expect(lost).toHaveLength(0);
    advance(1n * SECOND);
    expect(lost).toEqual([{ key: bob.key.publicKey, refusal: { kind: "expired", atNs: upper } }]);
    expect(policy.admits(bob.key.publicKey, branch)).toBe(false);
    // Presented again, it is refused as expired, with the instant.
    advance(1n);
    expect(connect(policy, bob)).toEqual({ refusal: expect.objectContaining({ kind: "expired", atNs: upper }) });
  });

  test("a renewed capability replaces the old one's timer", () => {
    const now = nowTaiNs();
    const { clock, advance } = manualClock(now);
    const policy = new TeamPolicy(new MemoryStore(), root.publicKey, { clock });
    const lost = watch(policy);
    const key = SigningKey.generate();
    const issue = (upper: bigint) => issueCapability({ issuer: root, subject: key.publicKey, perms: ["write"], expires: { lower: now - SECOND, upper } });
    const short = issue(now + 10n * SECOND);
    const long = issue(now + 100n * SECOND);
    for (const c of [short, long]) policy.authorize({ capHandle: c.sigHandle, remoteKey: key.publicKey, chain: [c.sigBlob, c.blob] });
    advance(50n * SECOND);
    expect(lost).toHaveLength(0);
    expect(policy.admits(key.publicKey, branch)).toBe(true);
  });

  test("revocations among loose blobs are paired and bounded; a tampered one does not verify", () => {
    const revs = Array.from({ length: 5 }, () => issueRevocation(root, SigningKey.generate().publicKey));
    const blobs = revs.flatMap((r) => [r.blob, r.sigBlob]);
    expect(revocationPairs(blobs, 3)).toHaveLength(3);
    const tampered = revs[0]!.blob.slice();
    tampered[70]! ^= 1;
    expect(verifyRevocation(revs[0]!.sigBlob, tampered, [root.publicKey])).toBeUndefined();
    expect(verifyRevocation(revs[0]!.sigBlob, revs[0]!.blob, [root.publicKey])?.target).toBeDefined();
  });
});
