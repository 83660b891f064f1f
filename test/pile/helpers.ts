/** Test helpers: temp dirs, and pile records built by hand from FORMATS §6.1 (independent of src/pile). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = "tribles-test-"): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** BLAKE3 from a second implementation, so the tests do not trust src/core/blake3.ts. */
export const independentHash = (bytes: Uint8Array): Uint8Array => blake3(bytes);

export const BLOB_MAGIC_HEX = "1e08b022ff2f47b6ebacf1d68eb35d96";
export const BRANCH_MAGIC_HEX = "2bc991a7f5d5d2a3a468c53b0aa03504";
export const TOMBSTONE_MAGIC_HEX = "e888cc787202d2ae4c654bfe9699c430";

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** A blob record: magic, u64 LE timestamp, u64 LE length, hash, payload, zero padding to 64. */
export function handBlob(payload: Uint8Array, opts: { ts?: bigint; hash?: Uint8Array; length?: bigint } = {}): Uint8Array {
  const pad = (64 - (payload.length % 64)) % 64;
  const out = new Uint8Array(64 + payload.length + pad);
  out.set(hex(BLOB_MAGIC_HEX), 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(16, opts.ts ?? 1234n, true);
  view.setBigUint64(24, opts.length ?? BigInt(payload.length), true);
  out.set(opts.hash ?? independentHash(payload), 32);
  out.set(payload, 64);
  return out;
}

/** A branch record (head given) or a tombstone (head null). */
export function handBranch(id: Uint8Array, head: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(64);
  out.set(hex(head ? BRANCH_MAGIC_HEX : TOMBSTONE_MAGIC_HEX), 0);
  out.set(id, 16);
  if (head) out.set(head, 32);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
