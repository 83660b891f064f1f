import { describe, expect, test } from "bun:test";
import { decodeSimpleArchive } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { nowTaiNs } from "../../src/core/schemas.ts";
import { CAP_ISSUER, CAP_SUBJECT, SIG_SIGNS } from "../../src/auth/attributes.ts";
import { ChainError, collectRevocations, DAY_NS, issueCapability, issueRevocation, RevocationSet, type SignedBlob, verifyChain } from "../../src/auth/capability.ts";
import { ScopeIndex } from "../../src/auth/scope.ts";
import type { Permission } from "../../src/auth/attributes.ts";

const root = SigningKey.generate();
const keys = Array.from({ length: 40 }, () => SigningKey.generate());

function store(...caps: SignedBlob[]): MemoryStore {
  const s = new MemoryStore();
  for (const c of caps) s.putMany([c.blob, c.sigBlob]);
  return s;
}

/** root → keys[0] → keys[1] → … → keys[n-1], each delegating `perms`. */
function chain(n: number, perms: Permission[] = ["write"], opts: { branches?: Uint8Array[] } = {}): SignedBlob[] {
  const out: SignedBlob[] = [issueCapability({ issuer: root, subject: keys[0]!.publicKey, perms: ["admin"] })];
  for (let i = 1; i < n; i++) {
    const parent = out[i - 1]!;
    out.push(issueCapability({ issuer: keys[i - 1]!, subject: keys[i]!.publicKey, perms, ...(opts.branches ? { branches: opts.branches } : {}), parent: { capBlob: parent.blob, sigBlob: parent.sigBlob } }));
  }
  return out;
}

const verifyLeaf = (caps: SignedBlob[], subject: Uint8Array, revoked = new RevocationSet(), now?: bigint) =>
  verifyChain(root.publicKey, caps[caps.length - 1]!.sigHandle, subject, revoked, store(...caps).reader(), now);

function kindOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof ChainError ? err.kind : `other: ${(err as Error).message}`;
  }
}

describe("capability chains", () => {
  test("a 3-deep delegation verifies with the leaf's scope", () => {
    const caps = chain(3, ["write"]);
    const cap = verifyLeaf(caps, keys[2]!.publicKey);
    expect(cap.grantsWrite()).toBe(true);
    expect(cap.depth).toBe(2);
  });

  test("the cap blob layout follows the spec: one signed entity, issuer and subject", () => {
    const [c] = chain(1);
    const set = decodeSimpleArchive(c!.blob);
    expect(set.find({ a: CAP_SUBJECT })[0]!.slice(32)).toEqual(new Uint8Array(keys[0]!.publicKey));
    expect(set.find({ a: CAP_ISSUER })[0]!.slice(32)).toEqual(new Uint8Array(root.publicKey));
    const sig = decodeSimpleArchive(c!.sigBlob);
    expect(sig.size).toBe(4);
    expect(sig.find({ a: SIG_SIGNS })[0]!.slice(32)).toEqual(new Uint8Array(hash(c!.blob)));
  });

  test("expired, not yet valid, wrong subject and too deep are refused", () => {
    const now = nowTaiNs();
    const expired = issueCapability({ issuer: root, subject: keys[0]!.publicKey, perms: ["read"], expires: { lower: now - 2n * DAY_NS, upper: now - DAY_NS } });
    expect(kindOf(() => verifyLeaf([expired], keys[0]!.publicKey))).toBe("Expired");
    const future = issueCapability({ issuer: root, subject: keys[0]!.publicKey, perms: ["read"], expires: { lower: now + DAY_NS, upper: now + 2n * DAY_NS } });
    expect(kindOf(() => verifyLeaf([future], keys[0]!.publicKey))).toBe("NotYetValid");
    expect(kindOf(() => verifyLeaf(chain(2), keys[5]!.publicKey))).toBe("SubjectMismatch");
    expect(kindOf(() => verifyLeaf(chain(33), keys[32]!.publicKey))).toBe("ok");
    expect(kindOf(() => verifyLeaf(chain(34), keys[33]!.publicKey))).toBe("ChainTooDeep");
  });

  test("a verified capability ends when the first capability in its chain ends", () => {
    const now = nowTaiNs();
    const parent = issueCapability({ issuer: root, subject: keys[0]!.publicKey, perms: ["admin"], expires: { lower: now, upper: now + 5n * DAY_NS } });
    // The child claims 400 days; the chain still stops at the parent's 5.
    const child = issueCapability({ issuer: keys[0]!, subject: keys[1]!.publicKey, perms: ["read"], expires: { lower: now, upper: now + 400n * DAY_NS }, parent: { capBlob: parent.blob, sigBlob: parent.sigBlob } });
    const leaf = verifyLeaf([parent, child], keys[1]!.publicKey);
    expect(leaf.expiresAt).toBe(now + 5n * DAY_NS);
    expect(leaf.grantsAdmin()).toBe(false);
    const top = verifyLeaf([parent], keys[0]!.publicKey);
    expect(top.expiresAt).toBe(now + 5n * DAY_NS);
    expect(top.grantsAdmin()).toBe(true);
  });

  test("an issuer must hold the parent capability, and the signer must be the issuer", () => {
    const [a] = chain(1);
    // keys[5] issues under keys[0]'s capability: signature fine, but keys[5] is not its subject.
    const stolen = issueCapability({ issuer: keys[5]!, subject: keys[6]!.publicKey, perms: ["read"], parent: { capBlob: a!.blob, sigBlob: a!.sigBlob } });
    expect(kindOf(() => verifyLeaf([a!, stolen], keys[6]!.publicKey))).toBe("IssuerMismatch");
    // A cap claiming root as issuer but signed by someone else.
    const forged = issueCapability({ issuer: keys[3]!, subject: keys[4]!.publicKey, perms: ["admin"] });
    const s = new MemoryStore();
    s.putMany([forged.blob, forged.sigBlob]);
    expect(kindOf(() => verifyChain(root.publicKey, forged.sigHandle, keys[4]!.publicKey, new RevocationSet(), s.reader()))).toBe("NonRootMissingParent");
  });

  test("scope may only narrow: write under read fails, branches must be a subset", () => {
    const b1 = genId();
    const b2 = genId();
    const readOnly = chain(2, ["read"]);
    const writeUnderRead = issueCapability({ issuer: keys[1]!, subject: keys[2]!.publicKey, perms: ["write"], parent: { capBlob: readOnly[1]!.blob, sigBlob: readOnly[1]!.sigBlob } });
    expect(kindOf(() => verifyLeaf([...readOnly, writeUnderRead], keys[2]!.publicKey))).toBe("ScopeNotSubset");
    const writable = chain(2);
    const readUnderWrite = issueCapability({ issuer: keys[1]!, subject: keys[2]!.publicKey, perms: ["read"], parent: { capBlob: writable[1]!.blob, sigBlob: writable[1]!.sigBlob } });
    expect(kindOf(() => verifyLeaf([...writable, readUnderWrite], keys[2]!.publicKey))).toBe("ok");
    const narrow = chain(2, ["write"], { branches: [b1] });
    const wider = issueCapability({ issuer: keys[1]!, subject: keys[2]!.publicKey, perms: ["read"], branches: [b1, b2], parent: { capBlob: narrow[1]!.blob, sigBlob: narrow[1]!.sigBlob } });
    expect(kindOf(() => verifyLeaf([...narrow, wider], keys[2]!.publicKey))).toBe("ScopeNotSubset");
    const same = issueCapability({ issuer: keys[1]!, subject: keys[2]!.publicKey, perms: ["read"], branches: [b1], parent: { capBlob: narrow[1]!.blob, sigBlob: narrow[1]!.sigBlob } });
    const cap = verifyLeaf([...narrow, same], keys[2]!.publicKey);
    expect(cap.grantsReadOn(b1)).toBe(true);
    expect(cap.grantsReadOn(b2)).toBe(false);
  });

  test("flipping any byte of a sig or cap blob breaks verification", () => {
    const caps = chain(2);
    const leaf = caps[1]!;
    for (const which of ["blob", "sigBlob"] as const) {
      for (let i = 0; i < leaf[which].length; i += 11) {
        const bad = { ...leaf, [which]: leaf[which].slice() };
        bad[which][i]! ^= 1;
        const s = store(caps[0]!);
        s.putMany([bad.blob, bad.sigBlob]);
        const sigHandle = hash(bad.sigBlob);
        expect(kindOf(() => verifyChain(root.publicKey, sigHandle, keys[1]!.publicKey, new RevocationSet(), s.reader()))).not.toBe("ok");
      }
    }
  });

  test("only root-signed revocations count, and they apply anywhere in the chain", () => {
    const caps = chain(3);
    const s = store(...caps);
    const byMember = issueRevocation(keys[0]!, keys[1]!.publicKey);
    s.putMany([byMember.blob, byMember.sigBlob]);
    expect(collectRevocations(s.reader(), [root.publicKey]).size).toBe(0);
    const byRoot = issueRevocation(root, keys[1]!.publicKey);
    s.putMany([byRoot.blob, byRoot.sigBlob]);
    const revoked = collectRevocations(s.reader(), [root.publicKey]);
    expect(revoked.has(keys[1]!.publicKey)).toBe(true);
    expect(kindOf(() => verifyLeaf(caps, keys[2]!.publicKey, revoked))).toBe("Revoked");
  });
});

describe("scope index", () => {
  test("incremental updates equal a rebuild from scratch as heads move", () => {
    const s = new MemoryStore();
    const branch = genId();
    const other = genId();
    const caps = chain(2, ["read"], { branches: [branch] });
    const cap = verifyLeaf(caps, keys[1]!.publicKey);
    const index = new ScopeIndex(s, cap);
    let head: Uint8Array | null = null;
    const linkTo = (prev: Uint8Array | null, n: number) => {
      const leaves = Array.from({ length: n }, () => s.put(crypto.getRandomValues(new Uint8Array(40))));
      const node = new Uint8Array((leaves.length + (prev ? 1 : 0)) * 32);
      leaves.forEach((l, i) => {
        node.set(l, i * 32);
      });
      if (prev) node.set(prev, leaves.length * 32);
      return s.put(node);
    };
    const secret = linkTo(null, 5);
    s.update(other, null, secret);
    for (let round = 0; round < 10; round++) {
      const next = linkTo(head, 20);
      s.update(branch, head, next);
      head = next;
      const walkedBefore = index.walked;
      index.update();
      if (round > 0) expect(index.walked - walkedBefore).toBe(21); // only the new blobs
      const scratch = new ScopeIndex(s, cap);
      scratch.update();
      expect(index.size).toBe(scratch.size);
      const reader = s.reader();
      for (const h of reader.list()) expect(index.inScope(h, reader)).toBe(scratch.inScope(h, reader));
    }
    expect(index.inScope(secret, s.reader())).toBe(false);
  });
});
