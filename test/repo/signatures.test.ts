/** Commit and branch-metadata round trips, signature checks, and malformed (untrusted) blobs. */
import { describe, expect, test } from "bun:test";
import * as noble from "@noble/ed25519";
import fc from "fast-check";
import { decodeSimpleArchive, encodeSimpleArchive } from "../../src/core/archive.ts";
import { hash } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { intrinsicEntity } from "../../src/core/entity.ts";
import { genId } from "../../src/core/id.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { shortStringValue } from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { REPO_CONTENT, REPO_HEAD, REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY } from "../../src/repo/attributes.ts";
import { buildBranchMeta, buildTrackingMeta, isTrackingMeta, parseBranchMeta, verifyBranchMeta } from "../../src/repo/branch-meta.ts";
import { buildCommit, parseCommit, verifyCommit } from "../../src/repo/commit.ts";
import { RepoError } from "../../src/repo/errors.ts";
import { verifyHistory } from "../../src/repo/history.ts";
import { Repository } from "../../src/repo/repository.ts";

const T = 3_990_000_000_000_000_000n;
const key7 = SigningKey.fromSeed(new Uint8Array(32).fill(7));
const attr = new Uint8Array(16).fill(0x42);
const fact = (text: string) => new TribleSet().add(genId(), attr, shortStringValue(text));

/** Offsets of the value bytes of tribles whose attribute is one of `attrs`. */
function valueOffsets(blob: Uint8Array, attrs: Uint8Array[]): number[] {
  const wanted = new Set(attrs.map(toHex));
  const out: number[] = [];
  for (let at = 0; at < blob.length; at += 64) if (wanted.has(toHex(blob.subarray(at + 16, at + 32)))) for (let i = at + 32; i < at + 64; i++) out.push(i);
  return out;
}

describe("commits", () => {
  test("round trip: parse gives back what was built; the signature verifies with an independent Ed25519", async () => {
    const content = fact("hello").union(fact("world"));
    const parent = hash(new Uint8Array([1]));
    const c = buildCommit({ key: key7, content, parents: [parent], message: "two facts", timestampNs: T });
    const info = parseCommit(c.bytes);
    expect(info.parents.map(toHex)).toEqual([toHex(parent)]);
    expect(info.content).toEqual(hash(encodeSimpleArchive(content)));
    expect(info.message).toEqual(hash(new TextEncoder().encode("two facts")));
    expect(info.createdAt).toBe(T);
    // The signature is over the raw content archive, checked here by @noble/ed25519.
    const set = decodeSimpleArchive(c.bytes);
    const sig = new Uint8Array([...set.values(set.entities()[0]!, REPO_SIGNATURE_R)[0]!, ...set.values(set.entities()[0]!, REPO_SIGNATURE_S)[0]!]);
    expect(await noble.verifyAsync(sig, encodeSimpleArchive(content), key7.publicKey)).toBe(true);
    expect(verifyCommit(c.bytes, encodeSimpleArchive(content))).toEqual(key7.publicKey);
  }, 5_000);

  test("any flipped bit of the content, or of the signed values of the commit, fails verification", () => {
    const c = buildCommit({ key: key7, content: fact("hello"), parents: [], message: "m", timestampNs: T });
    const contentBytes = c.blobs[0]!;
    for (let i = 0; i < contentBytes.length; i++) {
      const bad = contentBytes.slice();
      bad[i]! ^= 1 << (i % 8);
      expect(() => verifyCommit(c.bytes, bad)).toThrow();
    }
    for (const i of valueOffsets(c.bytes, [REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY, REPO_CONTENT])) {
      const bad = c.bytes.slice();
      bad[i]! ^= 0x01;
      expect(() => verifyCommit(bad, contentBytes)).toThrow();
    }
  }, 10_000);

  test("a commit without a signature, or with two, is refused", () => {
    const content = encodeSimpleArchive(fact("x"));
    const unsigned = encodeSimpleArchive(intrinsicEntity([[REPO_CONTENT, hash(content)]]).set);
    expect(() => verifyCommit(unsigned, content)).toThrow("not signed");
    const sig1 = key7.sign(content);
    const other = SigningKey.fromSeed(new Uint8Array(32).fill(9));
    const sig2 = other.sign(content);
    const twice = encodeSimpleArchive(
      intrinsicEntity([
        [REPO_CONTENT, hash(content)],
        [REPO_SIGNED_BY, key7.publicKey],
        [REPO_SIGNED_BY, other.publicKey],
        [REPO_SIGNATURE_R, sig1.subarray(0, 32)],
        [REPO_SIGNATURE_R, sig2.subarray(0, 32)],
        [REPO_SIGNATURE_S, sig1.subarray(32)],
        [REPO_SIGNATURE_S, sig2.subarray(32)],
      ]).set,
    );
    expect(() => verifyCommit(twice, content)).toThrow(RepoError);
  }, 5_000);
});

describe("branch metadata", () => {
  const c = buildCommit({ key: key7, content: fact("a"), parents: [], message: "a", timestampNs: T });
  const meta = buildBranchMeta({ branchId: genId(), name: "main", head: { handle: c.handle, bytes: c.bytes }, key: key7, timestampNs: T });

  test("round trip and verification over the head commit bytes", () => {
    const parsed = parseBranchMeta(meta.bytes);
    expect(parsed.head).toEqual(c.handle);
    expect(parsed.signedBy).toEqual(key7.publicKey);
    expect(parsed.name).toEqual(hash(new TextEncoder().encode("main")));
    expect(verifyBranchMeta(meta.bytes, c.bytes)).toEqual(key7.publicKey);
    expect(isTrackingMeta(meta.bytes)).toBe(false);
  }, 5_000);

  test("any flipped bit of the head commit or of the signed values fails verification", () => {
    for (let i = 0; i < c.bytes.length; i++) {
      const bad = c.bytes.slice();
      bad[i]! ^= 1 << (i % 8);
      expect(() => verifyBranchMeta(meta.bytes, bad)).toThrow();
    }
    for (const i of valueOffsets(meta.bytes, [REPO_SIGNATURE_R, REPO_SIGNATURE_S, REPO_SIGNED_BY, REPO_HEAD])) {
      const bad = meta.bytes.slice();
      bad[i]! ^= 0x80;
      expect(() => verifyBranchMeta(bad, c.bytes)).toThrow();
    }
  }, 10_000);

  test("tracking metadata round trip", () => {
    const remoteBranch = genId();
    const t = buildTrackingMeta({ trackingId: genId(), remoteBranch, remotePeer: key7.publicKey, remoteName: hash(new Uint8Array()), head: c.handle });
    const parsed = parseBranchMeta(t.bytes);
    expect(parsed.tracking?.remoteBranch).toEqual(remoteBranch);
    expect(parsed.name).toBeUndefined();
    expect(isTrackingMeta(t.bytes)).toBe(true);
  }, 5_000);
});

describe("history verification", () => {
  test("a tampered content blob anywhere in the chain is found", () => {
    const store = new MemoryStore();
    const repo = new Repository(store, key7);
    const first = repo.commit("main", fact("one"), "one");
    repo.commit("main", fact("two"), "two");
    const head = repo.requireBranch("main").meta.head!;
    expect(verifyHistory(store.reader(), head).map((v) => v.author)).toEqual([key7.publicKey, key7.publicKey]);
    // A reader that returns a changed content blob for the first commit's content handle.
    const contentHandle = repo.commitInfo(first).content!;
    const honest = store.reader();
    const lying = {
      get(h: Uint8Array) {
        const bytes = honest.get(h);
        if (!bytes || toHex(h) !== toHex(contentHandle)) return bytes;
        return encodeSimpleArchive(fact("forged"));
      },
    };
    expect(() => verifyHistory(lying, head)).toThrow(`commit ${toHex(first)}`);
  }, 5_000);
});

describe("untrusted bytes", () => {
  test("random bytes and truncated blobs give RepoErrors, never crashes", () => {
    const c = buildCommit({ key: key7, content: fact("a"), parents: [], message: "a", timestampNs: T });
    const meta = buildBranchMeta({ branchId: genId(), name: "main", head: { handle: c.handle, bytes: c.bytes }, key: key7, timestampNs: T });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const parse of [parseCommit, parseBranchMeta]) {
          try {
            parse(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(RepoError);
          }
        }
      }),
      { numRuns: 300 },
    );
    // Flipping any byte of a real blob either still parses or fails with a RepoError.
    for (const blob of [c.bytes, meta.bytes]) {
      for (let i = 0; i < blob.length; i++) {
        const bad = blob.slice();
        bad[i]! ^= 0xff;
        for (const parse of [parseCommit, parseBranchMeta]) {
          try {
            parse(bad);
          } catch (err) {
            expect(err).toBeInstanceOf(RepoError);
          }
        }
      }
      expect(() => parseCommit(blob.subarray(0, blob.length - 1))).toThrow(RepoError);
    }
  }, 20_000);

  test("a commit with two messages or no entity is refused with a clear message", () => {
    expect(() => parseCommit(new Uint8Array(0))).toThrow("not a commit: expected one entity, found 0");
    expect(() => parseBranchMeta(new Uint8Array(0))).toThrow("bad branch metadata");
  }, 5_000);
});
