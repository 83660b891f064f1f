/**
 * The relay's gate for reservations (relay.ts memberGate) on a real TeamPolicy: a member is
 * admitted once its AUTH verifies; a peer whose AUTH was refused is refused then, not after the
 * whole wait (an hour here, so only the AUTH can end it within the tests' bounds).
 */
import { expect, test } from "bun:test";
import { issueCapability } from "../../src/auth/capability.ts";
import { TeamPolicy } from "../../src/auth/policy.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { peerIdFromKey, peerPublicKey } from "../../src/net/peer-key.ts";
import { memberGate } from "../../src/net/relay.ts";

const HOUR_MS = 60 * 60_000;

function relayTeam() {
  const root = SigningKey.generate();
  const member = SigningKey.generate();
  const stranger = SigningKey.generate();
  const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["read"] });
  const policy = new TeamPolicy(new MemoryStore(), root.publicKey);
  const gate = memberGate(policy, peerPublicKey, HOUR_MS);
  const memberAuth = () => policy.authorize({ capHandle: cap.sigHandle, remoteKey: member.publicKey, chain: [cap.sigBlob, cap.blob] });
  const strangerAuth = () => policy.authorize({ capHandle: new Uint8Array(32), remoteKey: stranger.publicKey, chain: [] });
  return { gate, memberAuth, strangerAuth, memberPeer: peerIdFromKey(member.publicKey), strangerPeer: peerIdFromKey(stranger.publicKey) };
}

test("a reservation waiting for its peer's AUTH is admitted when the capability verifies, refused when the AUTH is refused", async () => {
  const t = relayTeam();
  const member = t.gate(t.memberPeer);
  const stranger = t.gate(t.strangerPeer);
  // The stranger's refusal ends its own wait only.
  expect(t.strangerAuth()).toHaveProperty("refusal");
  expect(await stranger).toBe(false);
  expect(t.memberAuth()).toHaveProperty("inScope");
  expect(await member).toBe(true);
}, 5000);

test("a peer whose AUTH was refused just before its reservation request is refused at once; a verified member is admitted at once", async () => {
  const t = relayTeam();
  t.strangerAuth();
  expect(await t.gate(t.strangerPeer)).toBe(false);
  t.memberAuth();
  expect(await t.gate(t.memberPeer)).toBe(true);
}, 5000);
