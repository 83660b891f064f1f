/**
 * The QUIC transport as we load it (src/net/quic.ts): it loads, its native reads are widened from
 * the package's 4 KiB, and bytes cross a real QUIC connection on 127.0.0.1 intact, in chunks larger
 * than 4 KiB.
 */
import { expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { createHost } from "../../src/net/host.ts";
import { loadQuic, QUIC_READ_BYTES, quicReadsWidened } from "../../src/net/quic.ts";

const PROTOCOL = "/tribles-test/quic-bulk/1";

test("QUIC loads with widened reads and carries 8 MiB intact in large chunks", async () => {
  const loaded = await loadQuic();
  expect(loaded.ok).toBe(true);
  expect(quicReadsWidened).toBe(true);

  const quicOnly = ["/ip4/127.0.0.1/udp/0/quic-v1"];
  const server = await createHost({ key: SigningKey.generate(), listen: quicOnly, dht: false });
  const client = await createHost({ key: SigningKey.generate(), listen: quicOnly, dht: false });
  try {
    let largest = 0;
    const received = new Promise<Uint8Array>((resolve, reject) => {
      void server.handle(PROTOCOL, async (stream) => {
        try {
          const parts: Uint8Array[] = [];
          for await (const chunk of stream) {
            const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
            largest = Math.max(largest, bytes.length);
            parts.push(bytes);
          }
          resolve(Buffer.concat(parts));
        } catch (err) {
          reject(err);
        }
      });
    });
    const data = crypto.getRandomValues(new Uint8Array(65536));
    const payload = new Uint8Array(8 << 20);
    for (let at = 0; at < payload.length; at += data.length) payload.set(data, at);
    payload[payload.length - 1] = 0x5a;

    const serverAddr = server.getMultiaddrs().find((a) => a.toString().includes("quic"))!;
    const stream = await client.dialProtocol(serverAddr, PROTOCOL);
    for (let at = 0; at < payload.length; at += 1 << 20) {
      if (!stream.send(payload.subarray(at, at + (1 << 20)))) await stream.onDrain();
    }
    await stream.close();
    const got = await received;
    expect(got.length).toBe(payload.length);
    expect(Buffer.compare(got, payload)).toBe(0);
    // The package reads 4 KiB at a time; ours reads up to QUIC_READ_BYTES.
    expect(largest).toBeGreaterThan(4096);
    expect(largest).toBeLessThanOrEqual(QUIC_READ_BYTES);
  } finally {
    await Promise.all([client.stop(), server.stop()]);
  }
}, 30_000);
