/**
 * TCP + noise transfer benchmark for the ChaCha20-Poly1305 rows (chacha-rows.ts). Two processes,
 * each a libp2p node made by our createHost (TCP + noise + yamux) on 127.0.0.1.
 *   transfer BYTES RUNS IMPL   this process sends; it starts `recv IMPL` as a child. Prints one JSON
 *                              line {"mbps": [per run], "ok": true} (ok: every run's SHA-256 matched).
 *   recv IMPL                  receives each stream, replies u64 length ‖ SHA-256 of what arrived.
 * IMPL: "ours" (src/net/noise-crypto.ts as is) or "as" (@chainsafe/as-chacha20poly1305 in its place).
 */
import { ChaCha20Poly1305, newInstance } from "@chainsafe/as-chacha20poly1305";
import { multiaddr } from "@multiformats/multiaddr";
import { SigningKey } from "../../src/core/ed25519.ts";
import { createHost } from "../../src/net/host.ts";
import { noiseCrypto } from "../../src/net/noise-crypto.ts";
import { readDigestReply, receiveDigests } from "../../test/net/fixtures/digest-receiver.ts";

const PROTOCOL = "/tribles-bench/chacha/1";
const [mode, ...args] = process.argv.slice(2);
const impl = mode === "recv" ? args[0] : args[2];

if (impl === "as") {
  const cc = new ChaCha20Poly1305(newInstance());
  const flat = (b: Uint8Array | { subarray(): Uint8Array }) => (b instanceof Uint8Array ? b : b.subarray());
  noiseCrypto.chaCha20Poly1305Encrypt = (pt, nonce, ad, k) => cc.seal(k, nonce, flat(pt), ad);
  noiseCrypto.chaCha20Poly1305Decrypt = (ct, nonce, ad, k, dst) => {
    const p = cc.open(k, nonce, flat(ct), ad, dst);
    if (!p) throw new Error("decrypt");
    return p;
  };
}

if (mode === "recv") {
  process.stdout.write(`${await receiveDigests(PROTOCOL)}\n`);
} else if (mode === "transfer") {
  const [total, runs] = [Number(args[0]), Number(args[1])];
  const recv = Bun.spawn([process.execPath, import.meta.path, "recv", impl!], { stdout: "pipe", stderr: "inherit" });
  const reader = recv.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("receiver exited");
    line += new TextDecoder().decode(value);
  }
  const block = crypto.getRandomValues(new Uint8Array(1 << 20));
  const expected = new Bun.CryptoHasher("sha256");
  for (let sent = 0; sent < total; sent += block.length) expected.update(block.subarray(0, Math.min(block.length, total - sent)));
  const want = Buffer.from(expected.digest() as Uint8Array).toString("hex");
  const host = await createHost({ key: SigningKey.generate(), listen: [], dht: false });
  const mbps: number[] = [];
  let ok = true;
  for (let r = 0; r < runs; r++) {
    const stream = await host.dialProtocol(multiaddr(line.trim()), PROTOCOL);
    const t0 = performance.now();
    for (let sent = 0; sent < total; ) {
      for (let off = 0; off < block.length && sent < total; off += 65536) {
        const chunk = block.subarray(off, Math.min(off + 65536, off + total - sent));
        sent += chunk.length;
        if (!stream.send(chunk)) await stream.onDrain();
      }
    }
    await stream.close();
    const reply = await readDigestReply(stream);
    mbps.push(total / 1e6 / ((performance.now() - t0) / 1000));
    ok &&= reply.bytes === total && Buffer.from(reply.sha256).toString("hex") === want;
  }
  process.stdout.write(`${JSON.stringify({ mbps, ok })}\n`);
  recv.kill("SIGKILL");
  await host.stop();
  process.exit(0);
} else {
  throw new Error("usage: chacha-peer.ts transfer BYTES RUNS IMPL | recv IMPL");
}
