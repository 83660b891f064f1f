/**
 * Scope index: after a granted branch's head moves (100 new blobs on top of 20,000), the
 * incremental update walks only the new blobs; compare with recomputing the scope from scratch,
 * in the same run. Run: `npm run bench -- scope`.
 */
import { issueCapability, RevocationSet, verifyChain } from "../src/auth/capability.ts";
import { ScopeIndex } from "../src/auth/scope.ts";
import { SigningKey } from "../src/core/ed25519.ts";
import { genId } from "../src/core/id.ts";
import { MemoryStore } from "../src/core/memory-store.ts";
import type { Hash } from "../src/core/store.ts";
import { median, report } from "./lib.ts";

const store = new MemoryStore();
const branch = genId();
const root = SigningKey.generate();
const member = SigningKey.generate();
const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["read"], branches: [branch] });
store.putMany([cap.blob, cap.sigBlob]);
const verified = verifyChain(root.publicKey, cap.sigHandle, member.publicKey, new RevocationSet(), store.reader());

/** A commit-like node listing `n` new leaves and the previous head. */
function grow(prev: Hash | null, n: number): Hash {
  const leaves = store.putMany(Array.from({ length: n }, () => crypto.getRandomValues(new Uint8Array(1024))));
  const node = new Uint8Array((n + 1) * 32);
  leaves.forEach((l, i) => {
    node.set(l, i * 32);
  });
  if (prev) node.set(prev, n * 32);
  return store.put(node);
}

let head = grow(null, 20_000);
store.update(branch, null, head);
const index = new ScopeIndex(store, verified);
index.update();

const incremental: number[] = [];
const scratch: number[] = [];
for (let round = 0; round < 7; round++) {
  const next = grow(head, 100);
  store.update(branch, head, next);
  head = next;
  let t0 = performance.now();
  index.update();
  incremental.push(performance.now() - t0);
  t0 = performance.now();
  const fresh = new ScopeIndex(store, verified);
  fresh.update();
  scratch.push(performance.now() - t0);
  if (fresh.size !== index.size) throw new Error("incremental scope differs from the recomputed one");
}
report("scope", [
  { name: "scope after a head moves (+100 on 20,000 blobs)", impl: "recompute from scratch", value: median(scratch), unit: "ms", higherIsBetter: false },
  { name: "scope after a head moves (+100 on 20,000 blobs)", impl: "incremental ScopeIndex", value: median(incremental), unit: "ms", higherIsBetter: false, referenceImpl: "recompute from scratch" },
]);
