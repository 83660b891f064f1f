/**
 * Our ChaCha20-Poly1305 kernel: RFC 8439 test vectors, agreement with @noble/ciphers on random
 * inputs, tamper detection, the noise crypto object, and a real transfer between two libp2p nodes
 * in separate processes over TCP + noise using it.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { chacha20 as nobleChacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { Uint8ArrayList } from "uint8arraylist";
import { chacha20, open, poly1305, seal } from "../../src/net/chacha20poly1305.ts";
import { noiseCrypto } from "../../src/net/noise-crypto.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/gi, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const range = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);
const utf8 = (s: string) => new TextEncoder().encode(s);

const SUNSCREEN = utf8(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed | 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

describe("RFC 8439 test vectors", () => {
  test("§2.3.2 block function", () => {
    const key = range(0, 32);
    const nonce = hex("000000090000004a00000000");
    const block = chacha20(key, nonce, 1, new Uint8Array(64));
    expect(toHex(block)).toBe(
      toHex(
        hex(`10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4 c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e
             d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2 b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e`),
      ),
    );
  });

  test("§2.4.2 encryption", () => {
    const ct = chacha20(range(0, 32), hex("000000000000004a00000000"), 1, SUNSCREEN);
    expect(toHex(ct)).toBe(
      toHex(
        hex(`6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81 e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
             f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57 16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
             07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e 52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
             5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42 87 4d`),
      ),
    );
  });

  test("§2.5.2 Poly1305", () => {
    const key = hex("85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b");
    expect(toHex(poly1305(key, utf8("Cryptographic Forum Research Group")))).toBe("a8061dc1305136c6c22b8baf0c0127a9");
  });

  test("§2.6.2 Poly1305 key generation", () => {
    const otk = chacha20(range(0x80, 32), hex("000000000001020304050607"), 0, new Uint8Array(32));
    expect(toHex(otk)).toBe(
      toHex(hex("8a d5 a0 8b 90 5f 81 cc 81 50 40 27 4a b2 94 71 a8 33 b6 37 e3 fd 0d a5 08 db b8 e2 fd d1 a6 46")),
    );
  });

  test("§2.8.2 AEAD", () => {
    const key = range(0x80, 32);
    const nonce = hex("07000000 4041424344454647");
    const ad = hex("50515253c0c1c2c3c4c5c6c7");
    const sealed = seal(key, nonce, SUNSCREEN, ad);
    expect(toHex(sealed)).toBe(
      toHex(
        hex(`d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
             3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
             92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
             3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16
             1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91`),
      ),
    );
    expect(toHex(open(key, nonce, sealed, ad)!)).toBe(toHex(SUNSCREEN));
  });

  test("Appendix A.5 decryption", () => {
    const key = hex("1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0");
    const nonce = hex("00 00 00 00 01 02 03 04 05 06 07 08");
    const ad = hex("f3 33 88 86 00 00 00 00 00 00 4e 91");
    const ciphertext = hex(`
      64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd 5e 80 5c fd 34 5c f3 89 f1 08 67 0a c7 6c 8c b2
      4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 bd b7 b7 3c 32 1b 01 00 d4 f0 3b 7f 35 58 94 cf
      33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b 94 81 14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55
      97 97 a0 6e f4 f0 ef 61 c1 86 32 4e 2b 35 06 38 36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4
      b9 16 6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 90 40 c5 a4 04 33 22 5e e2 82 a1 b0 a0 6c 52 3e
      af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a 0d 07 2b 04 b3 56 4e ea 1b 42 22 73 f5 48 27 1a
      0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10
      49 e6 17 d9 1d 36 10 94 fa 68 f0 ff 77 98 71 30 30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29
      a6 ad 5c b4 02 2b 02 70 9b`);
    const tag = hex("ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38");
    const sealed = new Uint8Array([...ciphertext, ...tag]);
    const plain = open(key, nonce, sealed, ad);
    expect(plain).not.toBeNull();
    expect(plain!.length).toBe(265);
    const text = new TextDecoder().decode(plain!);
    expect(text.startsWith("Internet-Drafts are draft documents valid for a maximum of six months")).toBe(true);
    expect(text.endsWith("as /\u201cwork in progress./\u201d")).toBe(true);
    // And encrypting it again gives the RFC's ciphertext and tag.
    expect(toHex(seal(key, nonce, plain!, ad))).toBe(toHex(sealed));
  });
});

describe("agrees with @noble/ciphers", () => {
  const LENGTHS = [0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 191, 192, 193, 255, 256, 257, 511, 512, 1000, 4095, 4096, 65535, 65536, 70000];

  test("seal and open on lengths 0…70000 with random AAD", () => {
    for (const [i, n] of LENGTHS.entries()) {
      const key = bytes(32, 1000 + i);
      const nonce = bytes(12, 2000 + i);
      const pt = bytes(n, 3000 + i);
      const ad = bytes((i * 7) % 40, 4000 + i);
      const ours = seal(key, nonce, pt, ad);
      const theirs = chacha20poly1305(key, nonce, ad).encrypt(pt);
      expect(ours.length).toBe(n + 16);
      expect(toHex(ours)).toBe(toHex(theirs));
      expect(toHex(open(key, nonce, theirs, ad)!)).toBe(toHex(pt));
    }
  });

  test("random lengths, AAD lengths and keys", () => {
    for (let i = 0; i < 200; i++) {
      const [n, adLen] = [Math.floor(Math.random() * 3000), Math.floor(Math.random() * 100)];
      const key = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const pt = crypto.getRandomValues(new Uint8Array(n));
      const ad = crypto.getRandomValues(new Uint8Array(adLen));
      const ours = seal(key, nonce, pt, ad);
      expect(toHex(ours)).toBe(toHex(chacha20poly1305(key, nonce, ad).encrypt(pt)));
      expect(toHex(open(key, nonce, ours, ad)!)).toBe(toHex(pt));
    }
  });

  test("raw ChaCha20 from any counter, across the 32-bit counter's groups of four", () => {
    for (const [counter, n] of [
      [0, 1000],
      [1, 257],
      [7, 64],
      [123456, 3000],
    ] as const) {
      const key = bytes(32, counter + 1);
      const nonce = bytes(12, counter + 2);
      const data = bytes(n, counter + 3);
      expect(toHex(chacha20(key, nonce, counter, data))).toBe(toHex(nobleChacha20(key, nonce, data, undefined, counter)));
    }
  });

  test("inputs larger than the initial memory (1 MiB, 5 MiB) grow it", () => {
    for (const n of [1 << 20, 5 << 20]) {
      const key = bytes(32, n);
      const nonce = bytes(12, n + 1);
      const pt = bytes(n, n + 2);
      const ours = seal(key, nonce, pt);
      expect(toHex(ours.subarray(n))).toBe(toHex(chacha20poly1305(key, nonce).encrypt(pt).subarray(n)));
      expect(Buffer.compare(open(key, nonce, ours)!, pt)).toBe(0);
    }
  });
});

describe("tampering fails open", () => {
  const key = bytes(32, 11);
  const nonce = bytes(12, 12);
  const ad = bytes(21, 13);
  const pt = bytes(300, 14);
  const sealed = seal(key, nonce, pt, ad);

  test("every flipped byte of ciphertext or tag", () => {
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = sealed.slice();
        bad[i]! ^= bit;
        expect(open(key, nonce, bad, ad)).toBeNull();
      }
    }
  });

  test("every flipped byte of AAD, nonce or key; truncation; wrong AAD length", () => {
    for (let i = 0; i < ad.length; i++) {
      const bad = ad.slice();
      bad[i]! ^= 0x04;
      expect(open(key, nonce, sealed, bad)).toBeNull();
    }
    for (let i = 0; i < nonce.length; i++) {
      const bad = nonce.slice();
      bad[i]! ^= 0x10;
      expect(open(key, bad, sealed, ad)).toBeNull();
    }
    for (let i = 0; i < key.length; i++) {
      const bad = key.slice();
      bad[i]! ^= 0x20;
      expect(open(bad, nonce, sealed, ad)).toBeNull();
    }
    expect(open(key, nonce, sealed.subarray(0, sealed.length - 1), ad)).toBeNull();
    expect(open(key, nonce, sealed.subarray(0, 15), ad)).toBeNull();
    expect(open(key, nonce, sealed, ad.subarray(1))).toBeNull();
    expect(open(key, nonce, sealed, new Uint8Array([...ad, 0]))).toBeNull();
    expect(toHex(open(key, nonce, sealed, ad)!)).toBe(toHex(pt));
  });

  test("a 64 KiB frame with one flipped bit anywhere", () => {
    const big = bytes(65535, 15);
    const s = seal(key, nonce, big, ad);
    for (const i of [0, 1, 191, 192, 255, 256, 40000, 65534, 65535, 65550]) {
      const bad = s.slice();
      bad[i]! ^= 0x02;
      expect(open(key, nonce, bad, ad)).toBeNull();
    }
  });
});

describe("noise crypto object", () => {
  const key = bytes(32, 21);
  const nonce = bytes(12, 22);
  const ad = bytes(32, 23);

  test("encrypts a Uint8ArrayList, decrypts into an overlapping dst, throws on a bad tag", () => {
    const a = bytes(1000, 24);
    const b = bytes(64535, 25);
    const list = new Uint8ArrayList(a, b);
    const sealed = noiseCrypto.chaCha20Poly1305Encrypt(list, nonce, ad, key) as Uint8Array;
    const plain = new Uint8Array([...a, ...b]);
    expect(toHex(sealed)).toBe(toHex(chacha20poly1305(key, nonce, ad).encrypt(plain)));
    // noise decrypts in place: dst is the ciphertext's own prefix.
    const frame = sealed.slice();
    const dst = frame.subarray(0, frame.length - 16);
    const out = noiseCrypto.chaCha20Poly1305Decrypt(frame, nonce, ad, key, dst) as Uint8Array;
    expect(out.buffer).toBe(frame.buffer);
    expect(Buffer.compare(out, plain)).toBe(0);
    const asList = noiseCrypto.chaCha20Poly1305Decrypt(new Uint8ArrayList(sealed.subarray(0, 7), sealed.subarray(7)), nonce, ad, key);
    expect(Buffer.compare(asList.subarray(), plain)).toBe(0);
    const bad = sealed.slice();
    bad[5]! ^= 1;
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(bad, nonce, ad, key)).toThrow(/authentication/);
  });
});

/** Returns a function that resolves with each line of a child's stdout in turn. */
function lines(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  return async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended (partial line: ${buf})`);
      buf += decoder.decode(value, { stream: true });
    }
  };
}

test(
  "two libp2p nodes in two processes move 8 MiB over TCP + noise with our kernel",
  async () => {
    const peer = join(import.meta.dir, "fixtures/chacha-peer.ts");
    const recv = Bun.spawn([process.execPath, peer, "recv"], { stdout: "pipe", stderr: "pipe" });
    try {
      const next = lines(recv.stdout);
      const { addr } = JSON.parse(await next()) as { addr: string };
      expect(addr).toContain("/ip4/127.0.0.1/tcp/");
      const size = 8 * 1024 * 1024 + 12345;
      const send = Bun.spawn([process.execPath, peer, "send", addr, String(size)], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(send.stdout).text(), new Response(send.stderr).text(), send.exited]);
      if (code !== 0) throw new Error(`sender exited ${code}: ${err}`);
      const sent = JSON.parse(out.trim()) as { bytes: number; sha256: string; reply: { bytes: number; sha256: string }; sealed: number };
      const got = JSON.parse(await next()) as { bytes: number; sha256: string; opened: number };
      expect(sent.bytes).toBe(size);
      expect(got.bytes).toBe(size);
      expect(got.sha256).toBe(sent.sha256);
      expect(sent.reply).toEqual({ bytes: size, sha256: sent.sha256 });
      // Every byte crossed the wire sealed by our kernel on one side and opened by it on the other.
      expect(sent.sealed).toBeGreaterThanOrEqual(size);
      expect(got.opened).toBeGreaterThanOrEqual(size);
    } finally {
      recv.kill("SIGKILL");
      await recv.exited;
    }
  },
  30_000,
);
