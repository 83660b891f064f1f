/**
 * Pile benchmarks (DESIGN.md targets): idle refresh, refresh throughput over records appended by
 * another process, cold open of a 1 GiB pile, index memory per blob, and put throughput against a
 * raw file append of the same bytes. Synthetic records carry made-up (unique, uniform) hashes where
 * only scanning is measured: refresh and open never hash, so the hashes need not verify.
 *
 * Run: `bun run bench/pile.bench.ts` (or `npm run bench -- pile`). Temp files are removed.
 */
import { closeSync, constants, fstatSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync, writevSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pile } from "../src/pile/pile.ts";
import { type BenchRow, median, report, timeMedianMs } from "./lib.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BLOB_MAGIC = [0x1e, 0x08, 0xb0, 0x22, 0xff, 0x2f, 0x47, 0xb6, 0xeb, 0xac, 0xf1, 0xd6, 0x8e, 0xb3, 0x5d, 0x96];

/** Appends `count` blob records of `payloadLen` bytes with unique pseudo-random hashes. */
function appendSynthetic(fd: number, count: number, payloadLen: number, seed: number): number {
  const recordLen = 64 + payloadLen + ((64 - (payloadLen % 64)) % 64);
  const perChunk = Math.max(1, Math.floor((16 * MiB) / recordLen));
  const chunk = new Uint8Array(perChunk * recordLen);
  const view = new DataView(chunk.buffer);
  for (let r = 0; r < perChunk; r++) {
    chunk.set(BLOB_MAGIC, r * recordLen);
    view.setBigUint64(r * recordLen + 16, BigInt(Date.now()), true);
    view.setBigUint64(r * recordLen + 24, BigInt(payloadLen), true);
    chunk.fill(0xa5, r * recordLen + 64, r * recordLen + 64 + payloadLen);
  }
  let state = (seed * 2654435761) >>> 0 || 1;
  let written = 0;
  while (written < count) {
    const n = Math.min(perChunk, count - written);
    for (let r = 0; r < n; r++) {
      for (let w = 0; w < 8; w++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        view.setUint32(r * recordLen + 32 + 4 * w, state >>> 0, true);
      }
      view.setUint32(r * recordLen + 60, seed * 0x01000000 + written + r, true); // guarantees uniqueness
    }
    let done = 0;
    const bytes = chunk.subarray(0, n * recordLen);
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    written += n;
  }
  return count * recordLen;
}

// Child mode: "another process" appending records to a pile.
if (process.argv[2] === "--append") {
  const [path, count, payloadLen, seed] = process.argv.slice(3);
  const fd = openSync(path!, constants.O_WRONLY | constants.O_APPEND);
  appendSynthetic(fd, Number(count), Number(payloadLen), Number(seed));
  closeSync(fd);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "tribles-bench-pile-"));
const rows: BenchRow[] = [];
const started = performance.now();

function appendFile(path: string, count: number, payloadLen: number, seed: number): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
  try {
    return appendSynthetic(fd, count, payloadLen, seed);
  } finally {
    closeSync(fd);
  }
}

/** Median µs per call of `fn` over `rounds` rounds of `perRound` calls. */
function microsPerCall(fn: () => void, perRound: number, rounds = 7): number {
  return (timeMedianMs(() => {
    for (let i = 0; i < perRound; i++) fn();
  }, rounds) * 1000) / perRound;
}

function benchIdleAndSmallRefresh(): void {
  const path = join(dir, "idle.pile");
  appendFile(path, 10_000, 1024, 1);
  const reader = Pile.open(path);
  const writer = Pile.open(path);
  const fd = openSync(path, "r");
  const fstatUs = microsPerCall(() => fstatSync(fd), 100_000);
  closeSync(fd);
  const idleUs = microsPerCall(() => reader.refresh(), 100_000);
  rows.push({ name: "refresh, nothing new", impl: "tribles pile", value: idleUs, unit: "µs", target: "< 5 µs", referenceImpl: "fstat alone", higherIsBetter: false });
  rows.push({ name: "refresh, nothing new", impl: "fstat alone", value: fstatUs, unit: "µs", higherIsBetter: false });

  // One 1 KiB record appended by another handle, then refresh: the tail-read path (no new mapping).
  const blob = new Uint8Array(1024);
  const samples: number[] = [];
  const mapsBefore = reader.mappingCount;
  for (let i = 0; i < 2000; i++) {
    new DataView(blob.buffer).setUint32(0, i, true);
    writer.put(blob);
    const t0 = performance.now();
    reader.refresh();
    samples.push((performance.now() - t0) * 1000);
  }
  rows.push({ name: "refresh after one 1 KiB append (tail read)", impl: "tribles pile", value: median(samples), unit: "µs", higherIsBetter: false });
  rows.push({ name: "mappings created by 2000 small refreshes", impl: "tribles pile", value: reader.mappingCount - mapsBefore, unit: "maps", higherIsBetter: false });

  // A 300 KiB append forces a re-map (the tail only takes small growth).
  const big = new Uint8Array(300 * KiB);
  const remaps: number[] = [];
  for (let i = 0; i < 50; i++) {
    new DataView(big.buffer).setUint32(0, i, true);
    writer.put(big);
    const t0 = performance.now();
    reader.refresh();
    remaps.push((performance.now() - t0) * 1000);
  }
  rows.push({ name: "refresh after one 300 KiB append (re-map)", impl: "tribles pile", value: median(remaps), unit: "µs", higherIsBetter: false });
  reader.close();
  writer.close();
}

async function benchRefreshThroughput(): Promise<void> {
  const path = join(dir, "refresh.pile");
  appendFile(path, 1000, 1024, 2);
  const reader = Pile.open(path);
  const perRound = 100_000;
  const gbps: number[] = [];
  const mrps: number[] = [];
  const readGbps: number[] = [];
  for (let round = 0; round < 3; round++) {
    const before = reader.length;
    const child = Bun.spawn([process.execPath, import.meta.path, "--append", path, String(perRound), "1024", String(10 + round)], { stdout: "inherit", stderr: "inherit" });
    if ((await child.exited) !== 0) throw new Error("append child failed");
    Bun.gc(true);
    const t0 = performance.now();
    reader.refresh();
    const seconds = (performance.now() - t0) / 1000;
    const bytes = reader.length - before;
    if (reader.blobCount !== 1000 + perRound * (round + 1)) throw new Error("refresh missed records");
    gbps.push(bytes / seconds / 1e9);
    mrps.push(perRound / seconds / 1e6);
    // Reference: reading the same new bytes with readSync (page cache hot), no parsing at all.
    const fd = openSync(path, "r");
    const buf = new Uint8Array(16 * MiB);
    const r0 = performance.now();
    for (let at = before; at < before + bytes; ) at += readSync(fd, buf, 0, Math.min(buf.length, before + bytes - at), at);
    readGbps.push(bytes / ((performance.now() - r0) / 1000) / 1e9);
    closeSync(fd);
  }
  rows.push({ name: "refresh over 100k new 1 KiB records", impl: "tribles pile", value: median(gbps), unit: "GB/s", target: "≥ 1 GB/s", referenceImpl: "readSync of the bytes", higherIsBetter: true });
  rows.push({ name: "refresh over 100k new 1 KiB records", impl: "readSync of the bytes", value: median(readGbps), unit: "GB/s", higherIsBetter: true });
  rows.push({ name: "refresh over 100k new 1 KiB records, records", impl: "tribles pile", value: median(mrps), unit: "M rec/s", target: "≥ 3 M rec/s", higherIsBetter: true });
  reader.close();
  rmSync(path);
}

function benchColdOpenAndMemory(): void {
  const path = join(dir, "big.pile");
  const recordLen = 64 + 1024;
  const count = Math.floor(GiB / recordLen);
  const fileBytes = appendFile(path, count, 1024, 3);
  const times: number[] = [];
  let bytesPerBlob = 0;
  for (let i = 0; i < 3; i++) {
    Bun.gc(true); // unmap the previous run's mapping now, not inside the timed open
    const t0 = performance.now();
    const pile = Pile.open(path);
    times.push(performance.now() - t0);
    if (pile.blobCount !== count) throw new Error(`open indexed ${pile.blobCount} of ${count} blobs`);
    bytesPerBlob = pile.indexBytes / pile.blobCount;
    pile.close();
  }
  // Reference: map the file and touch one byte per 4 KiB page — the floor for any header scan.
  const touch: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const map = Bun.mmap(path, { shared: false });
    let sum = 0;
    for (let at = 0; at < map.length; at += 4096) sum += map[at]!;
    touch.push(performance.now() - t0);
    if (sum < 0) console.log(sum);
  }
  const gib = (fileBytes / GiB).toFixed(2);
  rows.push({ name: `cold open, ${gib} GiB pile (${count} blobs)`, impl: "tribles pile", value: median(times) / 1000, unit: "s", target: "≤ 0.5 s", referenceImpl: "mmap + touch every page", higherIsBetter: false });
  rows.push({ name: `cold open, ${gib} GiB pile (${count} blobs)`, impl: "mmap + touch every page", value: median(touch) / 1000, unit: "s", higherIsBetter: false });
  rows.push({ name: "index memory per blob, 1 GiB pile", impl: "tribles pile", value: bytesPerBlob, unit: "B/blob", target: "≤ 64 B", higherIsBetter: false });
  rmSync(path);

  // Worst case for memory: just past a growth of the hash table (2^20 + 1 empty blobs, 64 MiB).
  const small = join(dir, "growth.pile");
  appendFile(small, 2 ** 20 + 1, 0, 4);
  const pile = Pile.open(small);
  rows.push({ name: "index memory per blob, just after a table growth", impl: "tribles pile", value: pile.indexBytes / pile.blobCount, unit: "B/blob", target: "≤ 64 B", higherIsBetter: false });
  pile.close();
  rmSync(small);
}

function benchPut(label: string, blobLen: number, totalBytes: number, batch: number): void {
  const count = Math.floor(totalBytes / blobLen);
  const blobs = Array.from({ length: count }, (_, i) => {
    const b = new Uint8Array(blobLen).fill(i & 255);
    new DataView(b.buffer).setUint32(0, i, true);
    return b;
  });
  const mbps = (ms: number) => (count * blobLen) / (ms / 1000) / 1e6;
  const files: string[] = [];
  const fresh = (name: string) => {
    files.push(join(dir, `${name}-${files.length}`));
    return files.at(-1)!;
  };
  const pileMs = timeMedianMs(() => {
    const pile = Pile.open(fresh("put"));
    for (let i = 0; i < count; i += batch) pile.putMany(blobs.slice(i, i + batch));
    pile.close(); // includes the fsync of close, as a real writer pays it
  }, 3);
  // Reference: append the same payload bytes to a plain file in the same batches, then fsync.
  const rawMs = timeMedianMs(() => {
    const fd = openSync(fresh("raw"), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
    for (let i = 0; i < count; i += batch) writevSync(fd, blobs.slice(i, i + batch)); // one syscall per batch, no copy
    fsyncSync(fd);
    closeSync(fd);
  }, 3);
  for (const f of files) rmSync(f, { force: true });
  const name = `put ${label} blobs (hash + append + fsync), batches of ${batch}`;
  rows.push({ name, impl: "tribles pile", value: mbps(pileMs), unit: "MB/s", target: "≥ 200 MB/s", referenceImpl: "raw fs append", higherIsBetter: true });
  rows.push({ name, impl: "raw fs append", value: mbps(rawMs), unit: "MB/s", higherIsBetter: true });
}

try {
  benchIdleAndSmallRefresh();
  await benchRefreshThroughput();
  benchColdOpenAndMemory();
  for (const [label, len, total, batch] of [
    ["1 KiB", KiB, 64 * MiB, 1000],
    ["1 KiB", KiB, 16 * MiB, 1],
    ["1 MiB", MiB, 256 * MiB, 16],
  ] as const) {
    benchPut(label, len, total, batch);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
report("pile", rows);
console.log(`\n(pile bench took ${((performance.now() - started) / 1000).toFixed(1)} s)`);

