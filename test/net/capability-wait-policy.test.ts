/** TeamSync's capability wait on a real TeamPolicy: an AUTH that verifies wakes a waiting head at once. */
import { expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { CapabilityWait, type Timers } from "../../src/net/capability-wait.ts";

/** Timers that never fire: the wait can end only by a notify. */
const frozen: Timers = { setTimeout: () => 0 as unknown as ReturnType<typeof setTimeout>, clearTimeout() {} };

test("a head waiting for its publisher is admitted as soon as the publisher's capability verifies", async () => {
  const root = SigningKey.generate();
  const member = SigningKey.generate();
  const store = new MemoryStore();
  const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["write"] });
  const policy = new TeamPolicy(store, root.publicKey);
  const waiting = new CapabilityWait();
  policy.onCapabilityVerified(() => waiting.notify());
  const branch = genId();
  const admitted = waiting.wait(() => policy.admits(member.publicKey, branch), 5000, frozen);
  expect(waiting.pending).toBe(1);
  policy.authorize({ capHandle: cap.sigHandle, remoteKey: member.publicKey, chain: [cap.sigBlob, cap.blob] });
  expect(await admitted).toBe(true);
});
