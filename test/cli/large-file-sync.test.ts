/**
 * A large file between two peers, as real processes: stored in chunks (a new version that changes
 * one chunk stores one chunk); commit, checkout and both sides of a sync stay under an RSS ceiling
 * whatever the file's size (sampled from /proc, file-backed pages included); and a receiver killed
 * with SIGKILL past the middle of the transfer fetches fewer than half of the bytes again.
 *
 * Size: 160 MiB by default (the suite runs on 2 cores); 1 GiB with TRIBLES_BIG_TESTS=1, or
 * TRIBLES_BIG_FILE_MB=N. The ceilings are the same at every size: when the pile read large blobs
 * through its mapping, a checkout and a sync's sender grew by the file's size.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, openSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CHUNK_BYTES } from "../../src/repo/files.ts";
import { CLI, firstAddr, listenFor, makeTeam, run, type Team } from "../net/e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const MB = 1e6;
const MiB = 1 << 20;
const sizeMiB = Number(process.env.TRIBLES_BIG_FILE_MB ?? (process.env.TRIBLES_BIG_TESTS === "1" ? 1024 : 160));
/** Peak resident memory (all of it: anonymous and file-backed) of a one-shot command. */
const COMMAND_CEILING = 128 * MB;
/**
 * Peak resident memory of each side of a sync. An idle sync process is 82-95 MB (38 MB of it the
 * runtime's code pages, 17 MB the empty runtime; importing the net layer alone makes a process
 * 68 MB); moving a large file adds transport buffers and garbage between paced collections.
 * Measured 113-121 MB on each side at 160 MiB and 1 GiB on a loaded 2-core machine (116-124 MB at
 * 2 GiB), against the 128 MB target; the ceiling keeps a margin for a busier machine.
 * Before replies were stored as they arrived, the first receiver (its post-order starts with a
 * tiny blob, so its second request asked for every chunk at once) held the whole file: 200 MB.
 */
const SYNC_CEILING = 132 * MB;

/** Samples a process's peak VmRSS every 5 ms until `stop`. */
function rssSampler(pid: number): { stop(): number } {
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited between samples
    }
  };
  const timer = setInterval(sample, 5);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** Runs the CLI, sampling the child's peak RSS. */
async function runSampled(cwd: string, ...args: string[]): Promise<{ out: string; peak: number }> {
  const proc = Bun.spawn([...CLI, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const sampler = rssSampler(proc.pid);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const peak = sampler.stop();
  if (code !== 0) throw new Error(`tribles ${args.join(" ")} exited ${code}: ${err}`);
  return { out, peak };
}

/** Writes `size` random bytes through one 1 MiB buffer. */
function writeRandom(path: string, size: number): void {
  const fd = openSync(path, "w");
  const block = new Uint8Array(MiB);
  try {
    for (let at = 0; at < size; at += MiB) {
      for (let k = 0; k < MiB; k += 65_536) crypto.getRandomValues(block.subarray(k, k + 65_536));
      writeSync(fd, block, 0, Math.min(MiB, size - at));
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether two files hold the same bytes, compared 1 MiB at a time. */
function sameFile(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false;
  const [fa, fb] = [openSync(a, "r"), openSync(b, "r")];
  const [ba, bb] = [new Uint8Array(MiB), new Uint8Array(MiB)];
  try {
    for (let at = 0; ; at += MiB) {
      const n = readSync(fa, ba, 0, MiB, at);
      if (readSync(fb, bb, 0, MiB, at) !== n) return false;
      if (n === 0) return true;
      if (!Buffer.from(ba.buffer, 0, n).equals(Buffer.from(bb.buffer, 0, n))) return false;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

describe("a large file", () => {
  test(`of ${sizeMiB} MiB is chunked, committed, synced and checked out under an RSS ceiling, and a transfer killed past its middle resumes`, async () => {
    team = await makeTeam(["a", "b"]);
    const t = team;
    const size = sizeMiB * MiB + 12_345;
    const file = join(t.dir, "big.bin");
    writeRandom(file, size);

    const commit = await runSampled(t.dir, "pile", "commit", "a.pile", "big.bin", "-m", "big", "--key", "a.key");
    expect(commit.peak).toBeGreaterThan(0);
    expect(commit.peak).toBeLessThan(COMMAND_CEILING);
    const before = statSync(join(t.dir, "a.pile")).size;
    appendFileSync(file, "one more line\n");
    await run(t.dir, "pile", "commit", "a.pile", "big.bin", "-m", "a line more", "--key", "a.key");
    expect(statSync(join(t.dir, "a.pile")).size - before).toBeLessThan(CHUNK_BYTES + 64 * 1024);
    const head = JSON.parse(await run(t.dir, "pile", "branch", "show", "a.pile", "main", "--json")).head as string;

    const a = t.sync("a", listenFor("tcp"));
    const addr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const sender = rssSampler(a.proc.pid);
    const first = t.sync("b", ["--peers", addr]);
    const firstReceiver = rssSampler(first.proc.pid);
    // Kill the receiver once well over half of the file has arrived (waiting on the pile's size).
    const pileB = join(t.dir, "b.pile");
    const deadline = Date.now() + 240_000;
    while (statSync(pileB).size < size * 0.6 && Date.now() < deadline) await Bun.sleep(2);
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const firstPeak = firstReceiver.stop();
    const had = statSync(pileB).size;
    expect(had).toBeGreaterThan(size / 2);
    expect(had).toBeLessThan(size);

    const second = t.sync("b", ["--peers", addr]);
    const secondReceiver = rssSampler(second.proc.pid);
    const fetched = await second.waitFor((e) => e.event === "fetched" && e.head !== undefined && (e.bytes as number) > 0, 240_000);
    await second.waitFor((e) => e.event === "merged" && e.head === head, 60_000);
    const secondPeak = secondReceiver.stop();
    const senderPeak = sender.stop();
    // Only what the killed run had not stored is fetched again: fewer than half of the bytes.
    expect(fetched.bytes as number).toBeLessThan(size / 2);
    expect(fetched.bytes as number).toBeLessThan(size - had + 2 * CHUNK_BYTES);
    await second.stop();
    await a.stop();
    console.log(`${sizeMiB} MiB: peak RSS commit ${(commit.peak / MB).toFixed(0)} MB, sync sender ${(senderPeak / MB).toFixed(0)} MB, receivers ${(firstPeak / MB).toFixed(0)} / ${(secondPeak / MB).toFixed(0)} MB`);
    expect(senderPeak).toBeLessThan(SYNC_CEILING);
    expect(firstPeak).toBeLessThan(SYNC_CEILING);
    expect(secondPeak).toBeLessThan(SYNC_CEILING);

    const checkout = await runSampled(t.dir, "pile", "checkout", "b.pile", "--out", "wb");
    console.log(`${sizeMiB} MiB: peak RSS checkout ${(checkout.peak / MB).toFixed(0)} MB`);
    expect(checkout.peak).toBeLessThan(COMMAND_CEILING);
    expect(sameFile(join(t.dir, "wb/big.bin"), file)).toBe(true);
  }, 600_000);
});
