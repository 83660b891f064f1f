/** The fixed vectors of FORMATS §10.2, built through the repo layer's own encoders. */
import { describe, expect, test } from "bun:test";
import { hash } from "../../src/core/blake3.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { SigningKey, verify } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { pointInterval } from "../../src/core/schemas.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { REPO_PARENT } from "../../src/repo/attributes.ts";
import { buildBranchMeta, parseBranchMeta } from "../../src/repo/branch-meta.ts";
import { buildCommit, buildMergeCommit, parseCommit, verifyCommit } from "../../src/repo/commit.ts";
import { Repository } from "../../src/repo/repository.ts";

const T = 3_990_000_000_000_000_000n;
const seed7 = new Uint8Array(32).fill(7);
const key7 = SigningKey.fromSeed(seed7);
const EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

describe("FORMATS §10.2 vectors", () => {
  test("Ed25519 key and signature over the empty message", () => {
    expect(toHex(key7.publicKey)).toBe("ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c");
    const sig = key7.sign(new Uint8Array(0));
    expect(toHex(sig)).toBe(
      "4c359336805e0db35d333e85a786f0a297d1dee2ee64a5d2d696829fdb420d560155eddbd304e6d267016658f782f736d611ff98792c5134dd959187a3f30904",
    );
    expect(verify(key7.publicKey, new Uint8Array(0), sig)).toBe(true);
  }, 5_000);

  test("NsTAIInterval point (T, T)", () => {
    expect(toHex(pointInterval(T))).toBe("8000000000000000375f53dc2dcf0000".repeat(2));
  }, 5_000);

  test("merge commit of P1 = 32×11, P2 = 32×22: entity, layout, handle; parent order irrelevant", () => {
    const p1 = new Uint8Array(32).fill(0x11);
    const p2 = new Uint8Array(32).fill(0x22);
    const m = buildMergeCommit([p1, p2]);
    expect(m.bytes.length).toBe(128);
    const e = "74e83f6f37475a876f307d335079d2ac";
    expect(toHex(m.bytes)).toBe(e + toHex(REPO_PARENT) + toHex(p1) + e + toHex(REPO_PARENT) + toHex(p2));
    expect(toHex(m.handle)).toBe("5cae364f1b8c9b6908fb5016f504f7270affa1e4ff1db4db3325db044660a55a");
    expect(buildMergeCommit([p2, p1]).bytes).toEqual(m.bytes);
    const info = parseCommit(m.bytes);
    expect(info.content).toBeUndefined();
    expect(info.parents.map(toHex)).toEqual([toHex(p1), toHex(p2)]);
    expect(verifyCommit(m.bytes, undefined)).toBeNull();
  }, 5_000);

  test("branch_unsigned: id 7D06…A773, name main, no head, updated_at (T, T)", () => {
    const branchId = fromHex("7D06820D69947D76E7177E5DEA4EA773");
    const meta = buildBranchMeta({ branchId, name: "main", timestampNs: T });
    expect(meta.bytes.length).toBe(192);
    expect(toHex(meta.bytes.subarray(0, 16))).toBe("9395dc9a107775153f63c9bed655e9ca");
    expect(toHex(meta.handle)).toBe("d12dd5d096c6893b2d5af9a76b7f20cf9b7b031a83201349ce0b36ae865b45bd");
    // The name blob travels with it; its handle is BLAKE3("main").
    expect(toHex(hash(meta.blobs[0]!))).toBe("e726318bbc3fd75ac8733a7e030cc35b6f44d7ee11a8a845413d4cbf0e06a729");
    const parsed = parseBranchMeta(meta.bytes);
    expect(parsed.branchId).toEqual(branchId);
    expect(parsed.head).toBeUndefined();
    expect(parsed.updatedAt?.lower).toBe(T);
    // Built from the name's handle instead of its text: the same bytes.
    expect(buildBranchMeta({ branchId, name: { handle: hash(meta.blobs[0]!) }, timestampNs: T }).bytes).toEqual(meta.bytes);
  }, 5_000);

  test("authored root commit: seed 7×32, empty content, message initial, created_at T", () => {
    const c = buildCommit({ key: key7, content: new TribleSet(), parents: [], message: "initial", timestampNs: T });
    expect(c.bytes.length).toBe(448);
    expect(toHex(c.bytes.subarray(0, 16))).toBe("3c35695ed174b48fd1b726057a52a7ae");
    expect(toHex(c.handle)).toBe("1ca40b62a3d5fdb01d5d7c7636fad512c0969db3a40b4f69d42fe1b6206bf489");
    const info = parseCommit(c.bytes);
    expect(toHex(info.content!)).toBe(EMPTY);
    expect(toHex(info.metadata!)).toBe(EMPTY);
    expect(info.author).toEqual(key7.publicKey);
    expect(info.createdAt).toBe(T);
    expect(verifyCommit(c.bytes, new Uint8Array(0))).toEqual(key7.publicKey);
  }, 5_000);

  test("the same root commit through a workspace with an injected clock", () => {
    const repo = new Repository(new MemoryStore(), key7, { clock: () => T });
    const ws = repo.pull(repo.createBranch("main").id);
    const handle = ws.commit(new TribleSet(), "initial");
    expect(toHex(handle)).toBe("1ca40b62a3d5fdb01d5d7c7636fad512c0969db3a40b4f69d42fe1b6206bf489");
    repo.push(ws);
    expect(toHex(repo.requireBranch("main").meta.head!)).toBe(toHex(handle));
  }, 5_000);
});
