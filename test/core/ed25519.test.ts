import { describe, expect, test } from "bun:test";
import * as noble from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { SigningKey, verify } from "../../src/core/ed25519.ts";

noble.hashes.sha512 = sha512;

describe("ed25519", () => {
  test("matches the spec vector for seed 7×32", () => {
    const key = SigningKey.fromSeed(new Uint8Array(32).fill(7));
    expect(toHex(key.publicKey)).toBe("ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c");
    expect(toHex(key.sign(new Uint8Array(0)))).toBe(
      "4c359336805e0db35d333e85a786f0a297d1dee2ee64a5d2d696829fdb420d560155eddbd304e6d267016658f782f736d611ff98792c5134dd959187a3f30904",
    );
  });

  test("agrees with @noble/ed25519 on random keys and messages", () => {
    for (let i = 0; i < 50; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const msg = crypto.getRandomValues(new Uint8Array(i * 7));
      const key = SigningKey.fromSeed(seed);
      expect(key.publicKey).toEqual(noble.getPublicKey(seed));
      const sig = key.sign(msg);
      expect(sig).toEqual(noble.sign(msg, seed));
      expect(noble.verify(sig, msg, key.publicKey)).toBe(true);
      expect(verify(key.publicKey, msg, sig)).toBe(true);
    }
  });

  test("rejects any flipped byte and malformed keys without throwing", () => {
    const key = SigningKey.generate();
    const msg = new TextEncoder().encode("hello");
    const sig = key.sign(msg);
    for (let i = 0; i < 64; i++) {
      const bad = sig.slice();
      bad[i]! ^= 1;
      expect(verify(key.publicKey, msg, bad)).toBe(false);
    }
    const badMsg = msg.slice();
    badMsg[0]! ^= 0x80;
    expect(verify(key.publicKey, badMsg, sig)).toBe(false);
    expect(verify(new Uint8Array(31), msg, sig)).toBe(false);
    expect(verify(fromHex("ff".repeat(32)), msg, sig)).toBe(false);
  });
});
