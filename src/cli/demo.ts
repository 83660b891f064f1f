/**
 * `npm run demo`: the main job on one machine. Two piles in a temp directory, two peers as separate
 * processes on 127.0.0.1, a team with a capability for each, a commit on each side, and the other
 * side receiving it. Prints what happens step by step with timings. `--keep` keeps the directory;
 * `--tcp` uses TCP instead of QUIC.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type SyncProcess, startSyncProcess } from "./sync-process.ts";

/** Runs the demo; returns the exit code. */
export async function runDemo(opts: { keep?: boolean; tcp?: boolean } = {}): Promise<number> {
  const keep = opts.keep ?? false;
  const transport = opts.tcp ? "tcp" : "quic";
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "tribles-demo-"));
  // Inside a compiled executable the CLI is this same binary; under `bun run` it is main.ts.
  const compiled = import.meta.url.includes("$bunfs");
  const cliCmd = compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "main.ts")];
  const children: Subprocess[] = [];
  let exitCode = 0;

  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(2)}s`.padStart(7);
  const say = (text: string) => console.log(`[${elapsed()}] ${text}`);

  async function cli(...args: string[]): Promise<string> {
    const proc = Bun.spawn([...cliCmd, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`tribles ${args.join(" ")} failed: ${err.trim() || out.trim()}`);
    return out.trim();
}

/** Starts `pile net sync` and collects its JSON events. */
function startSync(name: string, args: string[]): SyncProcess {
  const sync = startSyncProcess(cliCmd, args, dir, name);
  children.push(sync.proc);
  return sync;
}

const json = (text: string) => JSON.parse(text) as Record<string, string>;

try {
  console.log(`tribles demo: two piles syncing peer to peer over ${transport.toUpperCase()} on 127.0.0.1\nworking in ${dir}\n`);
  say("alice and bob each get a key and an empty pile");
  await cli("pile", "create", "alice.pile");
  await cli("pile", "create", "bob.pile");
  const alice = json(await cli("pile", "net", "identity", "--create", "--key", "alice.key", "--json"));
  const bob = json(await cli("pile", "net", "identity", "--create", "--key", "bob.key", "--json"));
  say(`  alice ${alice.peerId}\n            bob   ${bob.peerId}`);

  say("alice creates a team and invites bob with write access");
  const team = json(await cli("team", "create", "--pile", "alice.pile", "--key", "alice.key", "--json"));
  const bobCap = json(
    await cli("team", "invite", bob.publicKey!, "--perm", "write", "--pile", "alice.pile", "--key", "alice.key", "--team-root", team.teamRoot!, "--cap", team.cap!, "--json"),
  ).cap!;
  say(`  team root ${team.teamRoot!.slice(0, 16)}…, bob's capability ${bobCap.slice(0, 16)}…`);

  const listen = transport === "quic" ? "/ip4/127.0.0.1/udp/0/quic-v1" : "/ip4/127.0.0.1/tcp/0";
  say("starting alice's sync process");
  const a = startSync("alice", ["alice.pile", "--key", "alice.key", "--team-root", team.teamRoot!, "--cap", team.cap!, "--listen", listen]);
  const aListening = await a.waitFor((e) => e.event === "listening");
  const aAddr = (aListening.addrs as string[])[0]!;
  say(`  listening on ${aAddr}`);
  say("starting bob's sync process, dialing alice");
  const b = startSync("bob", ["bob.pile", "--key", "bob.key", "--team-root", team.teamRoot!, "--cap", bobCap, "--listen", listen, "--peers", aAddr]);
  await b.waitFor((e) => e.event === "listening");
  await a.waitFor((e) => e.event === "auth" && e.accepted === true);
  await b.waitFor((e) => e.event === "auth" && e.accepted === true);
  say("  both sides verified each other's capability");

  writeFileSync(join(dir, "notes.md"), "# Plan\n- sync piles peer to peer\n");
  writeFileSync(join(dir, "todo.txt"), "write the README\n");
  say('alice commits notes.md and todo.txt to "main"');
  const commitA = json(await cli("pile", "commit", "alice.pile", "--branch", "main", "-m", "Plans from alice", "notes.md", "todo.txt", "--key", "alice.key", "--json"));
  const tCommitA = Date.now();
  const atBob = await b.waitFor((e) => e.event === "received" && e.head === commitA.commit);
  say(`  bob received branch "${atBob.branch}" → tracking branch ${String(atBob.tracking).slice(0, 12)}…, head ${String(atBob.head).slice(0, 16)}…`);
  say(`  bob's pile now holds ${atBob.blobs} blobs; commit → arrival took ${Number(atBob.time) - tCommitA} ms`);
  await b.waitFor((e) => e.event === "merged" && e.branch === "main");
  say('  bob merged it into his own "main"');

  writeFileSync(join(dir, "reply.txt"), "README is on its way\n");
  say('bob commits reply.txt on his "main"');
  const commitB = json(await cli("pile", "commit", "bob.pile", "--branch", "main", "-m", "Reply from bob", "reply.txt", "--key", "bob.key", "--json"));
  const tCommitB = Date.now();
  const atAlice = await a.waitFor((e) => e.event === "received" && e.head === commitB.commit);
  say(`  alice received branch "${atAlice.branch}" → tracking ${String(atAlice.tracking).slice(0, 12)}…, head ${String(atAlice.head).slice(0, 16)}…`);
  say(`  alice's pile now holds ${atAlice.blobs} blobs; commit → arrival took ${Number(atAlice.time) - tCommitB} ms`);
  await a.waitFor((e) => e.event === "merged" && e.branch === "main");

  say("stopping both peers");
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => c.exited));
  const log = await cli("pile", "log", "alice.pile", "--branch", "main");
  console.log(`\nalice's "main" after sync:\n${log.replace(/^/gm, "  ")}\n`);
  // Bob writes out his "main": every file either side committed, byte for byte.
  await cli("pile", "checkout", "bob.pile", "--branch", "main", "--out", "bob-checkout");
  const names = ["notes.md", "reply.txt", "todo.txt"];
  const same = names.filter((n) => readFileSync(join(dir, "bob-checkout", n)).equals(readFileSync(join(dir, n))));
  if (same.length !== names.length) throw new Error(`bob's checkout differs from what was committed (matching: ${same.join(", ") || "none"})`);
  say(`bob's checkout of "main" holds ${names.join(", ")}, identical to what was committed`);
  say(`done: both piles hold both commits (${(performance.now() - started).toFixed(0)} ms in all)`);
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  for (const c of children) c.kill("SIGTERM");
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
return exitCode;
}

if (import.meta.main) process.exitCode = await runDemo({ keep: process.argv.includes("--keep"), tcp: process.argv.includes("--tcp") });
