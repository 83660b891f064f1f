/** TeamPolicy: what a peer's verified capability admits, and what ends it (revocation, expiry; not a stray failure). */
import { describe, expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { nowTaiNs } from "../../src/core/schemas.ts";
import { issueCapability, issueRevocation } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";

const root = SigningKey.generate();
const member = SigningKey.generate();
const branch = genId();

function team(expires?: { lower: bigint; upper: bigint }) {
  const store = new MemoryStore();
  const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["write"], ...(expires ? { expires } : {}) });
  store.putMany([cap.blob, cap.sigBlob]);
  const policy = new TeamPolicy(store, root.publicKey);
  expect(policy.authorize({ capHandle: cap.sigHandle, remoteKey: member.publicKey, chain: [] })).not.toBeNull();
  expect(policy.admits(member.publicKey, branch)).toBe(true);
  return { store, policy };
}

describe("TeamPolicy", () => {
  test("a failed check of the same key (another process, no capability) leaves its verified capability", () => {
    const { policy } = team();
    expect(policy.authorize({ capHandle: new Uint8Array(32), remoteKey: member.publicKey, chain: [] })).toBeNull();
    expect(policy.rejections.get(Buffer.from(member.publicKey).toString("hex"))).toBeDefined();
    expect(policy.admits(member.publicKey, branch)).toBe(true);
  });

  test("a root-signed revocation ends it", () => {
    const { store, policy } = team();
    const revocation = issueRevocation(root, member.publicKey);
    store.putMany([revocation.blob, revocation.sigBlob]);
    expect(policy.admits(member.publicKey, branch)).toBe(false);
  });

  test("it ends when its chain expires, without a new check", async () => {
    const now = nowTaiNs();
    const { policy } = team({ lower: now - 1_000_000_000n, upper: now + 300_000_000n });
    await Bun.sleep(400);
    expect(policy.admits(member.publicKey, branch)).toBe(false);
  });
});
