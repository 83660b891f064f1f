/** TeamPolicy: what a peer's verified capability admits, and what ends it (revocation, expiry; not a stray failure). */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { nowTaiNs } from "../../src/core/schemas.ts";
import { issueCapability, issueRevocation } from "../../src/auth/capability.ts";
import { MAX_REFUSALS_REMEMBERED, type PolicyClock, TeamPolicy } from "../../src/auth/policy.ts";
import { manualClock } from "./manual-clock.ts";
import { Pile } from "../../src/pile/pile.ts";
import { tempDir } from "../pile/helpers.ts";

const root = SigningKey.generate();
const member = SigningKey.generate();
const branch = genId();

function team(expires?: { lower: bigint; upper: bigint }, clock?: PolicyClock) {
  const store = new MemoryStore();
  const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["write"], ...(expires ? { expires } : {}) });
  store.putMany([cap.blob, cap.sigBlob]);
  const policy = new TeamPolicy(store, root.publicKey, clock ? { clock } : {});
  expect(policy.authorize({ capHandle: cap.sigHandle, remoteKey: member.publicKey, chain: [] })).toHaveProperty("inScope");
  expect(policy.admits(member.publicKey, branch)).toBe(true);
  return { store, policy };
}

describe("TeamPolicy", () => {
  test("a failed check of the same key (another process, no capability) leaves its verified capability", () => {
    const { policy } = team();
    expect(policy.authorize({ capHandle: new Uint8Array(32), remoteKey: member.publicKey, chain: [] })).toEqual({ refusal: { kind: "no-capability" } });
    expect(policy.refusalFor(member.publicKey)).toEqual({ kind: "no-capability" });
    expect(policy.admits(member.publicKey, branch)).toBe(true);
  });

  test("a root-signed revocation ends it", () => {
    const { store, policy } = team();
    const revocation = issueRevocation(root, member.publicKey);
    store.putMany([revocation.blob, revocation.sigBlob]);
    expect(policy.admits(member.publicKey, branch)).toBe(false);
  });

  test("it ends when its chain expires, without a new check", () => {
    const now = nowTaiNs();
    const { clock, advance } = manualClock(now);
    const { policy } = team({ lower: now - 1_000_000_000n, upper: now + 300_000_000n }, clock);
    advance(299_000_000n);
    expect(policy.admits(member.publicKey, branch)).toBe(true);
    advance(1_000_000n);
    expect(policy.admits(member.publicKey, branch)).toBe(false);
    expect(policy.refusalFor(member.publicKey)).toEqual({ kind: "expired", atNs: now + 300_000_000n });
  });

  test("one damaged blob in a pile does not stop capability checks (revocations are still found)", () => {
    const tmp = tempDir("tribles-policy-");
    try {
      const path = tmp.path("team.pile");
      const other = SigningKey.generate();
      const caps = [member, other].map((k) => issueCapability({ issuer: root, subject: k.publicKey, perms: ["write"] }));
      const revocation = issueRevocation(root, other.publicKey);
      let pile = Pile.open(path);
      const damaged = pile.put(new Uint8Array(100_000).fill(7));
      for (const c of [...caps, revocation]) pile.putMany([c.blob, c.sigBlob]);
      pile.close();
      // Flip a byte inside the large blob's payload (the first record, after its 64-byte header).
      const bytes = new Uint8Array(readFileSync(path));
      bytes[64 + 500]! ^= 1;
      writeFileSync(path, bytes);
      pile = Pile.open(path);
      try {
        expect(() => pile.reader().get(damaged)).toThrow("fails its BLAKE3 check");
        const policy = new TeamPolicy(pile, root.publicKey);
        expect(policy.authorize({ capHandle: caps[0]!.sigHandle, remoteKey: member.publicKey, chain: [] })).toHaveProperty("inScope");
        expect(policy.authorize({ capHandle: caps[1]!.sigHandle, remoteKey: other.publicKey, chain: [] })).toMatchObject({ refusal: { kind: "revoked" } });
        expect(policy.refusalFor(other.publicKey)?.kind).toBe("revoked");
      } finally {
        pile.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

test("refusals of strangers' keys are remembered up to a bound: every stranger brings a new key", () => {
  const root = SigningKey.generate();
  const policy = new TeamPolicy(new MemoryStore(), root.publicKey);
  const strangers = Array.from({ length: MAX_REFUSALS_REMEMBERED + 100 }, () => crypto.getRandomValues(new Uint8Array(32)));
  for (const remoteKey of strangers) policy.authorize({ capHandle: new Uint8Array(32), remoteKey, chain: [] });
  expect(policy.refusalFor(strangers.at(-1)!)?.kind).toBe("no-capability");
  // The first hundred are forgotten (the table holds the latest MAX_REFUSALS_REMEMBERED).
  expect(strangers.slice(0, 100).filter((k) => policy.refusalFor(k) !== undefined)).toHaveLength(0);
  expect(strangers.slice(100).every((k) => policy.refusalFor(k) !== undefined)).toBe(true);
});
