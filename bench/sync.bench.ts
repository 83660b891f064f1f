/**
 * Sync benchmarks on the anchors lab's workloads (W1 20,000 × 1 KiB under one head, W2 64 × 1 MiB,
 * W3 100 × 1 KiB committed on a live peer), over QUIC and TCP on loopback, with rsync (daemon, one
 * concatenated file) and git (daemon, `clone --bare`) run on the same bytes in the same run.
 * Sender and receiver are separate processes. Run: `npm run bench -- sync`.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { followJsonLines } from "../src/cli/sync-process.ts";
import { SigningKey } from "../src/core/ed25519.ts";
import { genId } from "../src/core/id.ts";
import { TribleSet } from "../src/core/tribleset.ts";
import { Pile } from "../src/pile/pile.ts";
import { loadKey } from "../src/repo/keyfile.ts";
import { Repository } from "../src/repo/repository.ts";
import { type BenchRow, median, report } from "./lib.ts";
import { W4_SEED } from "./fixtures/w4.ts";
import { WORKLOADS, type WorkloadName, workloadBlobs } from "./fixtures/workload.ts";

const RUNS = Number(process.env.RUNS ?? 3);
/**
 * W3 rounds are cheap (100 small blobs on a connection already open), so W3 takes many: its median
 * over three rounds swung by a third between runs. The first rounds are untimed: a live peer's
 * code is warm, and W3 measures a live peer.
 */
const W3_ROUNDS = Number(process.env.W3_ROUNDS ?? 25);
const W3_WARMUP = 10;
/** `SYNC_PARTS=W3cli,rsync` runs only those parts (rsync, git, W1, W2, W3, W3cli, W4); default all. */
const parts = process.env.SYNC_PARTS?.split(",");
const want = (part: string) => !parts || parts.includes(part);
const root = mkdtempSync(join(tmpdir(), "tribles-syncbench-"));
const rows: BenchRow[] = [];
const bun = process.execPath;
const fixture = (f: string) => join(import.meta.dir, "fixtures", f);
const MB = 1e6;

/** The value below which a fraction `p` of the samples fall (nearest rank). */
function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** Parses a child's stdout as JSON lines; `next()` resolves with each line's value in order. */
function jsonLines(stream: ReadableStream<Uint8Array>): () => Promise<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  void (async () => {
    let buf = "";
    for await (const chunk of stream) {
      buf += new TextDecoder().decode(chunk);
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const value = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const waiter = waiters.shift();
        if (waiter) waiter(value);
        else queue.push(value);
      }
    }
  })();
  return () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve)));
}

function startSender(workload: WorkloadName | "existing", transport: "quic" | "tcp", tag: string, pilePath = join(root, `${tag}-sender.pile`)) {
  const listen = transport === "quic" ? "/ip4/127.0.0.1/udp/0/quic-v1" : "/ip4/127.0.0.1/tcp/0";
  const proc = Bun.spawn([bun, fixture("sync-peer.ts"), pilePath, workload, listen, "11".repeat(32)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  return { proc, next: jsonLines(proc.stdout) };
}

async function ours(workload: "W1" | "W2", transport: "quic" | "tcp"): Promise<void> {
  const bytes = WORKLOADS[workload].count * WORKLOADS[workload].size;
  const walls: number[] = [];
  const procs: number[] = [];
  let last: Record<string, number> = {};
  for (let run = 0; run < RUNS; run++) {
    const tag = `${workload}-${transport}-${run}`;
    const sender = startSender(workload, transport, tag);
    const ready = await sender.next();
    const addr = (ready.addrs as string[])[0]!;
    const t0 = performance.timeOrigin + performance.now();
    const recv = Bun.spawn([bun, fixture("sync-receiver.ts"), "fetch", join(root, `${tag}-recv.pile`), addr], { stdout: "pipe", stderr: "inherit" });
    const out = JSON.parse(await new Response(recv.stdout).text());
    procs.push(performance.timeOrigin + performance.now() - t0);
    walls.push(out.ms);
    last = out;
    sender.proc.stdin.write("stop\n");
    await sender.proc.exited;
  }
  const wall = median(walls);
  const name = `${workload} sync (${transport})`;
  rows.push({ name: `${workload} wall s`, impl: `tribles ${transport}`, value: wall / 1000, unit: "s", higherIsBetter: false, referenceImpl: "rsync -a", ...(workload === "W1" ? { target: "< rsync" } : {}) });
  rows.push({ name: `${workload} MB/s`, impl: `tribles ${transport}`, value: bytes / MB / (wall / 1000), unit: "MB/s", referenceImpl: "rsync -a", ...(workload === "W2" ? { target: "≥ 300 MB/s" } : {}) });
  rows.push({ name: `${workload} process s`, impl: `tribles ${transport}`, value: median(procs) / 1000, unit: "s", higherIsBetter: false, referenceImpl: "rsync -a" });
  rows.push({ name: `${workload} round trips`, impl: `tribles ${transport}`, value: last.requests!, unit: "requests" });
  rows.push({ name: `${workload} peak RSS`, impl: `tribles ${transport}`, value: last.maxRssKiB! / 1024, unit: "MiB", higherIsBetter: false });
  console.error(`${name}: ${JSON.stringify(last)}`);
}

async function w3(transport: "quic" | "tcp"): Promise<void> {
  const latencies: number[] = [];
  // Where the time goes (medians): the commit itself, then publish + gossip + admission up to the
  // start of the fetch, the fetch, and verifying + applying the head once its blobs are stored.
  const parts: Record<"commit" | "announce" | "fetch" | "apply", number[]> = { commit: [], announce: [], fetch: [], apply: [] };
  const sender = startSender("W1", transport, `W3-${transport}`);
  const ready = await sender.next();
  const addr = (ready.addrs as string[])[0]!;
  const recv = Bun.spawn([bun, fixture("sync-receiver.ts"), "live", join(root, `W3-${transport}-recv.pile`), addr, String(ready.teamRoot)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const nextApplied = jsonLines(recv.stdout);
  await nextApplied(); // W1 arrived
  for (let run = 0; run < W3_WARMUP + W3_ROUNDS; run++) {
    sender.proc.stdin.write("append W3\n");
    const committed = await sender.next();
    let got = await nextApplied();
    while (got.head !== committed.head) got = await nextApplied();
    if (run >= W3_WARMUP) {
      const [committedAt, appliedAt, fetchedAt, fetchMs] = [committed.committedAt, got.appliedAt, got.fetchedAt, got.fetchMs] as number[];
      const commitMs = committed.commitMs as number;
      latencies.push(appliedAt! - committedAt!);
      parts.commit.push(commitMs);
      parts.announce.push(fetchedAt! - fetchMs! - committedAt! - commitMs);
      parts.fetch.push(fetchMs!);
      parts.apply.push(appliedAt! - fetchedAt!);
    }
  }
  const labels = { commit: "commit (sender)", announce: "publish, gossip, admit", fetch: "fetch (one CLOSURE round trip, else one per DAG level)", apply: "verify signatures, move tracking branch" };
  for (const [part, label] of Object.entries(labels)) {
    rows.push({ name: `W3 part: ${label}`, impl: `tribles ${transport}`, value: median(parts[part as keyof typeof parts]), unit: "ms", higherIsBetter: false });
  }
  rows.push({ name: W3_LIB, impl: `tribles ${transport}`, value: median(latencies), unit: "ms", higherIsBetter: false, referenceImpl: "rsync -a", target: "≤ 10 ms" });
  rows.push({ name: `${W3_LIB}, 90th percentile`, impl: `tribles ${transport}`, value: percentile(latencies, 0.9), unit: "ms", higherIsBetter: false });
  recv.stdin.write("stop\n");
  sender.proc.stdin.write("stop\n");
  await Promise.all([recv.exited, sender.proc.exited]);
}

const W3_LIB = "W3 commit → tracking branch via SyncNode (library path)";
const W3_CLI = "W3 commit → local branch via pile net sync (CLI path)";
/** `SYNC_CPU_PROF=DIR` profiles every CLI process of W3cli (Bun's --cpu-prof-md) into DIR. */
const cpuProf = process.env.SYNC_CPU_PROF;
const CLI = [bun, ...(cpuProf ? ["--cpu-prof-md", `--cpu-prof-dir=${cpuProf}`] : []), join(import.meta.dir, "../src/cli/main.ts")];

/** Runs the CLI in `cwd` and returns its stdout; a non-zero exit throws with its stderr. */
async function cli(cwd: string, ...args: string[]): Promise<string> {
  const proc = Bun.spawn([...CLI, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`tribles ${args.join(" ")} exited ${code}: ${err}`);
  return out;
}

/**
 * W3 as a user of `tribles pile net sync` gets it: two real CLI sync processes (team root,
 * capabilities checked by the team policy, merge into the local branch, flush after each round).
 * Alice's sync serves her pile; an app (this process) commits 100 × 1 KiB into that pile file;
 * her sync notices the write (file watch), publishes; Bob's sync fetches, verifies, moves his
 * tracking branch, merges into his local "main" and flushes. Timed from the start of the commit
 * to Bob's `merged` line arriving here (what a user reading `--json` sees).
 */
async function w3Cli(transport: "quic" | "tcp"): Promise<void> {
  const dir = join(root, `W3cli-${transport}`);
  mkdirSync(dir);
  for (const name of ["alice", "bob"]) {
    await cli(dir, "pile", "create", `${name}.pile`);
    await cli(dir, "pile", "net", "identity", "--create", "--key", `${name}.key`);
  }
  const team = JSON.parse(await cli(dir, "team", "create", "--pile", "alice.pile", "--key", "alice.key", "--json"));
  const bobKey = JSON.parse(await cli(dir, "pile", "net", "identity", "--key", "bob.key", "--json")).publicKey;
  const bobCap = JSON.parse(await cli(dir, "team", "invite", bobKey, "--perm", "write", "--pile", "alice.pile", "--key", "alice.key", "--team-root", team.teamRoot, "--cap", team.cap, "--json")).cap;

  // Alice's app: her pile, her key, W1 committed under "main" before the syncs start.
  const pile = Pile.open(join(dir, "alice.pile"));
  const repo = new Repository(pile, loadKey({ path: join(dir, "alice.key") }).key);
  const blobAttr = new Uint8Array(16).fill(0x5b);
  const commitBlobs = (blobs: Uint8Array[], message: string) => {
    const hashes = pile.putMany(blobs);
    const content = new TribleSet();
    for (const h of hashes) content.add(genId(), blobAttr, h);
    const head = repo.commit("main", content, message);
    return Buffer.from(head).toString("hex");
  };
  const w1 = commitBlobs(workloadBlobs("W1"), "W1");

  const listen = transport === "quic" ? "/ip4/127.0.0.1/udp/0/quic-v1" : "/ip4/127.0.0.1/tcp/0";
  const start = (name: string, cap: string, extra: string[]) => {
    const proc = Bun.spawn([...CLI, "pile", "net", "sync", `${name}.pile`, "--key", `${name}.key`, "--team-root", team.teamRoot, "--cap", cap, "--listen", listen, "--json", ...extra], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    return { proc, follow: followJsonLines<Record<string, unknown>>(proc, name) };
  };
  const alice = start("alice", team.cap, []);
  const listening = await alice.follow.waitFor((e) => e.event === "listening");
  const bob = start("bob", bobCap, ["--peers", (listening.addrs as string[])[0]!]);
  // When a line arrived here: each waiter is registered before its line can arrive.
  const stamp = (p: Promise<unknown>) => p.then(() => performance.timeOrigin + performance.now());
  const newer = (follow: typeof bob.follow, e: Record<string, unknown>, before: number) => follow.items.indexOf(e) >= before;
  await bob.follow.waitFor((e) => e.event === "merged" && e.head === w1, 120_000);
  const latencies: number[] = [];
  const split: Record<"commit" | "publish" | "before" | "fetch" | "apply" | "merge", number[]> = { commit: [], publish: [], before: [], fetch: [], apply: [], merge: [] };
  const requests: number[] = [];
  try {
    for (let run = 0; run < W3_WARMUP + W3_ROUNDS; run++) {
      const blobs = workloadBlobs("W3", run + 1);
      const [a0, b0] = [alice.follow.items.length, bob.follow.items.length];
      const published = stamp(alice.follow.waitFor((e) => e.event === "published" && newer(alice.follow, e, a0), 60_000));
      const fetched = stamp(bob.follow.waitFor((e) => e.event === "fetched" && newer(bob.follow, e, b0), 60_000));
      const received = stamp(bob.follow.waitFor((e) => e.event === "received" && newer(bob.follow, e, b0), 60_000));
      const merged = stamp(bob.follow.waitFor((e) => e.event === "merged" && newer(bob.follow, e, b0), 60_000));
      const t0 = performance.timeOrigin + performance.now();
      const head = commitBlobs(blobs, "W3");
      const t1 = performance.timeOrigin + performance.now();
      const [tp, tf, tr, tm] = await Promise.all([published, fetched, received, merged]);
      const last = bob.follow.items.findLast((e) => e.event === "merged");
      if (last?.head !== head) throw new Error(`bob merged ${String(last?.head)}, not the commit ${head}`);
      if (run >= W3_WARMUP) {
        latencies.push(tm - t0);
        split.commit.push(t1 - t0);
        split.publish.push(tp - t1);
        // Bob's fetched line carries the fetch's own duration: the rest of the stage is push or
        // gossip, admission and queueing before the fetch started.
        const fetchedLine = bob.follow.items.findLast((e) => e.event === "fetched") as { ms: number; requests: number };
        split.before.push(tf - tp - fetchedLine.ms);
        split.fetch.push(fetchedLine.ms);
        requests.push(fetchedLine.requests);
        split.apply.push(tr - tf);
        split.merge.push(tm - tr);
      }
    }
  } finally {
    for (const p of [bob.proc, alice.proc]) p.kill("SIGTERM");
    await Promise.all([bob.proc.exited, alice.proc.exited]);
    pile.close();
  }
  const impl = `tribles ${transport}, pile net sync (CLI)`;
  const labels = {
    commit: "commit (app, beside the sync)",
    publish: "file watch → Alice's published line",
    before: "→ Bob starts fetching (push/gossip, admit, queue)",
    fetch: "Bob's fetch itself (as his fetched line reports it)",
    apply: "→ Bob's received line (verify, tracking branch)",
    merge: "→ Bob's merged line (local main moved)",
  };
  for (const [part, label] of Object.entries(labels)) rows.push({ name: `W3 CLI part: ${label}`, impl, value: median(split[part as keyof typeof split]), unit: "ms", higherIsBetter: false });
  rows.push({ name: "W3 CLI part: Bob's fetch, request frames", impl, value: median(requests), unit: "requests", higherIsBetter: false });
  rows.push({ name: W3_CLI, impl, value: median(latencies), unit: "ms", higherIsBetter: false, referenceImpl: "rsync -a", target: "≤ 5 ms" });
  rows.push({ name: `${W3_CLI}, 90th percentile`, impl, value: percentile(latencies, 0.9), unit: "ms", higherIsBetter: false, target: "≤ 10 ms" });
}

/** A plain rsync daemon on 127.0.0.1 serving `modules` (name → directory); stop it with `stop()`. */
async function rsyncDaemon(modules: Record<string, string>): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(root, "rsyncd-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = Object.entries(modules).map(([name, path]) => `[${name}]\npath = ${path}\nread only = yes\n`);
  writeFileSync(join(dir, "rsyncd.conf"), `use chroot = no\nport = ${port}\naddress = 127.0.0.1\npid file = ${dir}/rsyncd.pid\n${conf.join("")}`);
  const daemon = Bun.spawn(["rsync", "--daemon", "--no-detach", `--config=${join(dir, "rsyncd.conf")}`], { stdout: "ignore", stderr: "inherit" });
  // Ready when it answers a module listing.
  for (let i = 0; i < 100 && Bun.spawnSync(["rsync", `rsync://127.0.0.1:${port}/`]).exitCode !== 0; i++) await Bun.sleep(20);
  return {
    port,
    async stop() {
      daemon.kill();
      await daemon.exited;
    },
  };
}

/** Wall time (ms) and the child's peak RSS (KiB, from GNU time if present) of `rsync -a SRC DEST`. */
function timedRsync(src: string, dest: string): { ms: number; maxRssKiB?: number } {
  const time = Bun.which("time", { PATH: "/usr/bin:/bin" });
  const t0 = performance.now();
  const p = Bun.spawnSync([...(time ? [time, "-f", "%M"] : []), "rsync", "-a", src, dest]);
  const ms = performance.now() - t0;
  if (p.exitCode !== 0) throw new Error(`rsync failed: ${p.stderr}`);
  const rss = time ? Number(p.stderr.toString().trim().split("\n").at(-1)) : Number.NaN;
  return { ms, ...(Number.isFinite(rss) ? { maxRssKiB: rss } : {}) };
}

/**
 * W4: a pile of W4_N blobs (default 1,000,000) of 100 B–4 KiB in one commit history
 * (bench/fixtures/w4.ts, cached under the temp dir). Open time and index memory in a fresh
 * process; a full sync to an empty pile over QUIC (sender and receiver processes, peak RSS of
 * each) against the plain rsync daemon copying the same pile file; CPU of a no-op sync round.
 */
async function w4(): Promise<void> {
  const n = Number(process.env.W4_N ?? 1_000_000);
  const label = n === 1_000_000 ? "1 M" : n.toLocaleString("en");
  const t0 = performance.now();
  const builder = Bun.spawnSync([bun, fixture("w4.ts"), "build", String(n)], { stderr: "inherit" });
  if (builder.exitCode !== 0) throw new Error("W4 build failed");
  const built = JSON.parse(builder.stdout.toString()) as { path: string; bytes: number; blobs: number };
  console.error(`W4 pile: ${built.blobs} blobs, ${(built.bytes / 1e9).toFixed(2)} GB, ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (cached at ${built.path})`);
  const child = (...args: string[]) => {
    const p = Bun.spawnSync([bun, fixture("w4.ts"), ...args], { stderr: "inherit" });
    if (p.exitCode !== 0) throw new Error(`w4.ts ${args[0]} failed`);
    return JSON.parse(p.stdout.toString());
  };
  const opens = Array.from({ length: RUNS }, () => child("open", built.path));
  const name = (what: string) => `W4 ${label} blobs (100 B–4 KiB, ${(built.bytes / 1e9).toFixed(2)} GB, one history): ${what}`;
  rows.push({ name: name("open"), impl: "tribles pile", value: median(opens.map((o) => o.ms)), unit: "ms", higherIsBetter: false, target: "≤ 1000 ms" });
  rows.push({ name: name("index memory"), impl: "tribles pile", value: opens[0].indexBytes / opens[0].blobs, unit: "B/blob", higherIsBetter: false, target: "≤ 64 B" });
  rows.push({ name: name("peak RSS after open"), impl: "tribles pile", value: median(opens.map((o) => o.maxRssKiB)) / 1024, unit: "MiB", higherIsBetter: false });

  const size = statSync(built.path).size;
  const noop = child("noop", built.path, Buffer.from(SigningKey.fromSeed(Buffer.from(W4_SEED, "hex")).publicKey).toString("hex"));
  if (statSync(built.path).size !== size) throw new Error("a no-op round wrote to the W4 pile");
  rows.push({ name: name("CPU of a no-op sync round (TeamSync.refresh)"), impl: "tribles pile", value: noop.cpuMs, unit: "ms", higherIsBetter: false, target: "≤ 10 ms" });

  const sender = startSender("existing", "quic", "W4", built.path);
  const addr = ((await sender.next()).addrs as string[])[0]!;
  const recvPile = join(root, "W4-recv.pile");
  const recv = Bun.spawn([bun, fixture("sync-receiver.ts"), "fetch", recvPile, addr], { stdout: "pipe", stderr: "inherit" });
  const out = JSON.parse(await new Response(recv.stdout).text());
  sender.proc.stdin.write("stop\n");
  const senderRss = (await sender.next()).maxRssKiB as number;
  await sender.proc.exited;
  if (out.blobs < n) throw new Error(`W4 fetched ${out.blobs} blobs, fewer than the ${n} committed`);
  rmSync(recvPile, { force: true });
  console.error(`W4 sync: ${JSON.stringify(out)}`);

  const daemon = await rsyncDaemon({ w4: dirname(built.path) });
  let rsync: { ms: number; maxRssKiB?: number };
  try {
    const dest = join(root, "W4-rsync");
    mkdirSync(dest);
    rsync = timedRsync(`rsync://127.0.0.1:${daemon.port}/w4/sender.pile`, `${dest}/`);
    rmSync(dest, { recursive: true, force: true });
  } finally {
    await daemon.stop();
  }
  rows.push({ name: name("full sync to an empty pile"), impl: "tribles quic", value: out.ms / 1000, unit: "s", higherIsBetter: false, referenceImpl: "rsync -a", target: "≥ 0.1× rsync (≤ 10× its time)" });
  rows.push({ name: name("full sync to an empty pile"), impl: "rsync -a", value: rsync.ms / 1000, unit: "s", higherIsBetter: false });
  rows.push({ name: name("peak RSS, receiver"), impl: "tribles quic", value: out.maxRssKiB / 1024, unit: "MiB", higherIsBetter: false, target: "≤ 300 MB" });
  rows.push({ name: name("peak RSS, sender"), impl: "tribles quic", value: senderRss / 1024, unit: "MiB", higherIsBetter: false, target: "≤ 300 MB" });
  if (rsync.maxRssKiB) rows.push({ name: name("peak RSS, receiver"), impl: "rsync -a", value: rsync.maxRssKiB / 1024, unit: "MiB", higherIsBetter: false });
}

/** rsync daemon on 127.0.0.1 serving each workload as one concatenated file. */
async function rsyncRows(): Promise<void> {
  if (!Bun.which("rsync")) return console.error("rsync not installed: skipping its rows (apt-get install rsync)");
  const dir = join(root, "rsync");
  mkdirSync(join(dir, "src"), { recursive: true });
  for (const w of ["W1", "W2"] as const) writeFileSync(join(dir, "src", `${w}.bin`), Buffer.concat(workloadBlobs(w)));
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(join(dir, "rsyncd.conf"), `use chroot = no\nport = ${port}\naddress = 127.0.0.1\npid file = ${dir}/rsyncd.pid\n[m]\npath = ${dir}/src\nread only = yes\n`);
  const daemon = Bun.spawn(["rsync", "--daemon", "--no-detach", `--config=${join(dir, "rsyncd.conf")}`], { stdout: "ignore", stderr: "inherit" });
  await Bun.sleep(300);
  try {
    for (const w of ["W1", "W2"] as const) {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const dest = join(dir, `dst-${w}-${run}`);
        mkdirSync(dest);
        const t0 = performance.now();
        const p = Bun.spawnSync(["rsync", "-a", `rsync://127.0.0.1:${port}/m/${w}.bin`, `${dest}/`]);
        times.push(performance.now() - t0);
        if (p.exitCode !== 0) throw new Error(`rsync failed: ${p.stderr}`);
      }
      const s = median(times) / 1000;
      const bytes = WORKLOADS[w].count * WORKLOADS[w].size;
      rows.push({ name: `${w} wall s`, impl: "rsync -a", value: s, unit: "s", higherIsBetter: false });
      rows.push({ name: `${w} process s`, impl: "rsync -a", value: s, unit: "s", higherIsBetter: false });
      rows.push({ name: `${w} MB/s`, impl: "rsync -a", value: bytes / MB / s, unit: "MB/s" });
    }
    // W3 for rsync: append 100 KiB to W1's file and pull again (delta against the previous copy).
    const dest = join(dir, "dst-W1-0");
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const extra = Buffer.concat(workloadBlobs("W3", run + 2));
      Bun.spawnSync(["sh", "-c", `cat >> ${join(dir, "src", "W1.bin")}`], { stdin: extra });
      const t0 = performance.now();
      Bun.spawnSync(["rsync", "-a", `rsync://127.0.0.1:${port}/m/W1.bin`, `${dest}/`]);
      times.push(performance.now() - t0);
    }
    for (const name of [W3_LIB, W3_CLI]) rows.push({ name, impl: "rsync -a", value: median(times), unit: "ms", higherIsBetter: false });
  } finally {
    daemon.kill();
    await daemon.exited;
  }
}

/** git daemon on 127.0.0.1; W1/W2 committed as files; `git clone --bare` (transfer + index-pack). */
async function gitRows(): Promise<void> {
  if (!Bun.which("git")) return console.error("git not installed: skipping its rows");
  const dir = join(root, "git");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" };
  for (const w of ["W1", "W2"] as const) {
    const work = join(dir, `${w}-work`);
    mkdirSync(work, { recursive: true });
    for (const [i, b] of workloadBlobs(w).entries()) writeFileSync(join(work, `b${i}`), b);
    for (const cmd of [["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", w], ["git", "clone", "-q", "--bare", work, join(dir, `${w}.git`)]]) {
      Bun.spawnSync(cmd, { cwd: work, env });
    }
  }
  const daemon = Bun.spawn(["git", "daemon", "--export-all", `--base-path=${dir}`, "--listen=127.0.0.1", `--port=${port}`, "--reuseaddr", dir], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(400);
  try {
    for (const w of ["W1", "W2"] as const) {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const t0 = performance.now();
        const p = Bun.spawnSync(["git", "clone", "-q", "--bare", `git://127.0.0.1:${port}/${w}.git`, join(dir, `clone-${w}-${run}`)]);
        times.push(performance.now() - t0);
        if (p.exitCode !== 0) throw new Error(`git clone failed: ${p.stderr}`);
      }
      const s = median(times) / 1000;
      const bytes = WORKLOADS[w].count * WORKLOADS[w].size;
      rows.push({ name: `${w} wall s`, impl: "git clone --bare", value: s, unit: "s", higherIsBetter: false, referenceImpl: "rsync -a" });
      rows.push({ name: `${w} MB/s`, impl: "git clone --bare", value: bytes / MB / s, unit: "MB/s", referenceImpl: "rsync -a" });
    }
  } finally {
    daemon.kill();
    await daemon.exited;
  }
}

try {
  if (want("rsync")) await rsyncRows();
  if (want("git")) await gitRows();
  for (const transport of ["quic", "tcp"] as const) {
    if (want("W1")) await ours("W1", transport);
    if (want("W2")) await ours("W2", transport);
    if (want("W3")) await w3(transport);
    if (want("W3cli")) await w3Cli(transport);
  }
  if (want("W4")) await w4();
  const order = ["W1 wall s", "W1 process s", "W1 MB/s", "W1 round trips", "W1 peak RSS", "W2 wall s", "W2 process s", "W2 MB/s", "W2 round trips", "W2 peak RSS", W3_LIB, `${W3_LIB}, 90th percentile`, W3_CLI, `${W3_CLI}, 90th percentile`];
  order.push(...rows.map((r) => r.name).filter((n) => n.startsWith("W3 part:") || n.startsWith("W3 CLI part:")));
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  rows.sort((a, b) => rank(a.name) - rank(b.name)); // stable: unlisted rows keep their order, last
  report("sync", rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
