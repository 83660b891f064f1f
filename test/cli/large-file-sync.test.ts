/**
 * A large file between two peers, as real processes: stored in chunks (a new version that changes
 * one chunk stores one chunk), committed and checked out with bounded anonymous memory, and a
 * receiver killed with SIGKILL mid-transfer fetches only the chunks it lacks when it restarts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHUNK_BYTES } from "../../src/repo/files.ts";
import { CLI, firstAddr, listenFor, makeTeam, run, type Team } from "../net/e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const MB = 1 << 20;

/** Runs the CLI, sampling the child's anonymous resident memory (file-backed pages, such as the pile's mapping, are the page cache's). */
async function runSampled(cwd: string, ...args: string[]): Promise<{ out: string; peakAnonBytes: number }> {
  const proc = Bun.spawn([...CLI, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  let peak = 0;
  const sample = () => {
    try {
      const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited between samples
    }
  };
  const timer = setInterval(sample, 5);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearInterval(timer);
  if (code !== 0) throw new Error(`tribles ${args.join(" ")} exited ${code}: ${err}`);
  return { out, peakAnonBytes: peak };
}

describe("a large file", () => {
  test("is chunked (a one-chunk change stores one chunk), committed and checked out in bounded memory, and a killed transfer resumes", async () => {
    team = await makeTeam(["a", "b"]);
    const t = team;
    const size = 160 * MB + 12_345;
    const random = new Uint8Array(size);
    for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(random.subarray(at, Math.min(size, at + 65_536)));
    writeFileSync(join(t.dir, "big.bin"), random);

    const commit = await runSampled(t.dir, "pile", "commit", "a.pile", "big.bin", "-m", "big", "--key", "a.key");
    expect(commit.peakAnonBytes).toBeGreaterThan(0);
    // Whole-file handling holds at least the file (160 MB) in memory; chunked stays far below.
    expect(commit.peakAnonBytes).toBeLessThan(96 * MB);
    const before = statSync(join(t.dir, "a.pile")).size;
    appendFileSync(join(t.dir, "big.bin"), "one more line\n");
    await run(t.dir, "pile", "commit", "a.pile", "big.bin", "-m", "a line more", "--key", "a.key");
    expect(statSync(join(t.dir, "a.pile")).size - before).toBeLessThan(CHUNK_BYTES + 64 * 1024);
    const head = JSON.parse(await run(t.dir, "pile", "branch", "show", "a.pile", "main", "--json")).head as string;

    const a = t.sync("a", listenFor("tcp"));
    const addr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const first = t.sync("b", ["--peers", addr]);
    // Kill the receiver once about a third of the file has arrived.
    const pileB = join(t.dir, "b.pile");
    const deadline = Date.now() + 60_000;
    while (statSync(pileB).size < size / 3 && Date.now() < deadline) await Bun.sleep(2);
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const had = statSync(pileB).size;
    expect(had).toBeGreaterThan(size / 4);
    expect(had).toBeLessThan(size);

    const second = t.sync("b", ["--peers", addr]);
    const fetched = await second.waitFor((e) => e.event === "fetched" && e.head !== undefined && (e.bytes as number) > 0, 60_000);
    await second.waitFor((e) => e.event === "merged" && e.head === head, 60_000);
    // Only what the killed run had not stored is fetched again.
    expect(fetched.bytes as number).toBeLessThan(size - had + 2 * CHUNK_BYTES);
    await second.stop();
    await a.stop();

    const checkout = await runSampled(t.dir, "pile", "checkout", "b.pile", "--out", "wb");
    expect(checkout.peakAnonBytes).toBeLessThan(96 * MB);
    expect(Buffer.from(readFileSync(join(t.dir, "wb/big.bin"))).equals(readFileSync(join(t.dir, "big.bin")))).toBe(true);
  }, 180_000);
});
