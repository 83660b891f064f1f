/**
 * One large file (FILE_MB, default 1024 MiB of random bytes): `pile commit`, `pile net sync` to a
 * second process and `pile checkout`, each with its peak resident memory (all of it, and the
 * anonymous part: the rest is the pile's file mapping, which the page cache can drop), against
 * `cp` and `rsync -a` of the same file in the same run. Run: `npm run bench -- files`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, firstAddr, listenFor, makeTeam } from "../test/net/e2e-helpers.ts";
import { type BenchRow, report } from "./lib.ts";

const MiB = 1 << 20;
const size = Number(process.env.FILE_MB ?? 1024) * MiB;
const root = mkdtempSync(join(tmpdir(), "tribles-filesbench-"));
const rows: BenchRow[] = [];
const MB = 1e6;

interface Peak {
  rss: number;
  anon: number;
}

/** Samples a process's resident memory every 10 ms until it exits. */
function sampler(pid: number): { stop(): Peak } {
  const peak = { rss: 0, anon: 0 };
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      peak.rss = Math.max(peak.rss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
      peak.anon = Math.max(peak.anon, Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // exited
    }
  };
  const timer = setInterval(read, 10);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

async function timed(cmd: string[], cwd: string): Promise<{ s: number; peak: Peak }> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { cwd, stdout: "ignore", stderr: "inherit" });
  const s = sampler(proc.pid);
  const code = await proc.exited;
  const peak = s.stop();
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
  return { s: (performance.now() - t0) / 1000, peak };
}

const label = `${size / MiB} MiB file`;

function addRows(impl: string, r: { s: number; peak: Peak }) {
  rows.push({ name: `${label} MB/s`, impl, value: size / MB / r.s, unit: "MB/s", ...(impl === "cp" ? {} : { referenceImpl: "cp" }) });
  rows.push({ name: "peak RSS", impl, value: r.peak.rss / MB, unit: "MB", higherIsBetter: false, ...(impl.startsWith("tribles") ? { target: "≤ 128 MB" } : {}) });
  rows.push({ name: "peak anonymous RSS", impl, value: r.peak.anon / MB, unit: "MB", higherIsBetter: false });
}

try {
  const team = await makeTeam(["a", "b"]);
  const dir = team.dir;
  const file = join(dir, "big.bin");
  const block = new Uint8Array(MiB);
  writeFileSync(file, new Uint8Array(0));
  const out = Bun.file(file).writer();
  for (let at = 0; at < size; at += MiB) {
    for (let k = 0; k < MiB; k += 65_536) crypto.getRandomValues(block.subarray(k, k + 65_536));
    out.write(block);
  }
  await out.end();

  addRows("cp", await timed(["cp", file, join(root, "cp.bin")], dir));
  if (Bun.which("rsync")) addRows("rsync -a", await timed(["rsync", "-a", file, join(root, "rsync.bin")], dir));
  else console.error("rsync not installed: skipping its row");

  addRows("tribles pile commit", await timed([...CLI, "pile", "commit", "a.pile", "big.bin", "-m", "big", "--key", "a.key"], dir));

  const a = team.sync("a", listenFor("tcp"));
  const addr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  const t0 = performance.now();
  const b = team.sync("b", ["--peers", addr]);
  const sa = sampler(a.proc.pid);
  const sb = sampler(b.proc.pid);
  await b.waitFor((e) => e.event === "merged", 600_000);
  const syncS = (performance.now() - t0) / 1000;
  const [pa, pb] = [sa.stop(), sb.stop()];
  await b.stop();
  await a.stop();
  addRows("tribles sync tcp, receiver", { s: syncS, peak: pb });
  rows.push({ name: "peak RSS", impl: "tribles sync tcp, sender", value: pa.rss / MB, unit: "MB", higherIsBetter: false, target: "≤ 128 MB" });
  rows.push({ name: "peak anonymous RSS", impl: "tribles sync tcp, sender", value: pa.anon / MB, unit: "MB", higherIsBetter: false });

  addRows("tribles pile checkout", await timed([...CLI, "pile", "checkout", "b.pile", "--out", "wb"], dir));
  await team.cleanup();
  report("files", rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
