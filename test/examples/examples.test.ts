/**
 * The programs in examples/ run as a user runs them (separate processes on 127.0.0.1, importing
 * the package by its name): a team is made, two notes apps sync facts both ways, a read-only
 * follower sees a branch's new heads, and a one-shot pull fetches a branch and exits.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../pile/helpers.ts";
import { type AppProcess, dialAddress, EXAMPLES, startExample } from "./app-process.ts";

interface Member {
  pile: string;
  key: string;
  capability: string;
}

const tmp = tempDir("tribles-examples-");
let team: { teamRoot: string; members: Record<string, Member> };
const running: AppProcess[] = [];

function memberArgs(name: string): string[] {
  const m = team.members[name]!;
  return ["--pile", m.pile, "--key", m.key, "--team-root", team.teamRoot, "--cap", m.capability];
}

function start(file: string, args: string[]): AppProcess {
  const app = startExample(file, args, tmp.dir);
  running.push(app);
  return app;
}

const hasNotes = (notes: string[]) => (l: { event: string; notes?: unknown }) => l.event === "notes" && JSON.stringify(l.notes) === JSON.stringify(notes);

beforeAll(async () => {
  const made = Bun.spawn([process.execPath, join(EXAMPLES, "make-team.ts"), tmp.dir, "alice", "bob", "--readers", "carol", "dave"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(made.stdout).text(), new Response(made.stderr).text(), made.exited]);
  if (code !== 0) throw new Error(`make-team exited ${code}: ${err}`);
  team = JSON.parse(out);
}, 60_000);

afterAll(async () => {
  for (const app of running) app.proc.kill();
  await Promise.all(running.map((a) => a.proc.exited));
  tmp.cleanup();
}, 30_000);

test(
  "two notes apps sync facts both ways; a read-only follower and a one-shot pull see them",
  async () => {
    const alice = start("notes-app.ts", memberArgs("alice"));
    const aliceAddr = dialAddress(await alice.waitFor((l) => l.event === "listening"));
    const bob = start("notes-app.ts", [...memberArgs("bob"), "--peer", aliceAddr]);
    await bob.waitFor((l) => l.event === "listening");
    const carol = start("follow.ts", [...memberArgs("carol"), "--peer", aliceAddr]);
    await carol.waitFor((l) => l.event === "listening");

    alice.send("add buy milk");
    await alice.waitFor(hasNotes(["buy milk"]));
    await bob.waitFor(hasNotes(["buy milk"]));
    await carol.waitFor(hasNotes(["buy milk"]));

    bob.send("add call mum");
    await bob.waitFor(hasNotes(["buy milk", "call mum"]));
    await alice.waitFor(hasNotes(["buy milk", "call mum"]));
    await carol.waitFor(hasNotes(["buy milk", "call mum"]));

    const dave = start("pull-once.ts", ["--pile", team.members.dave!.pile, "--key", team.members.dave!.key, "--cap", team.members.dave!.capability, "--from", aliceAddr]);
    const pulled = await dave.waitFor((l) => l.event === "pulled" || l.event === "failed");
    expect(pulled).toMatchObject({ event: "pulled", status: "applied", notes: ["buy milk", "call mum"] });
    expect(await dave.proc.exited).toBe(0);

    for (const app of [alice, bob, carol]) expect(await app.finish()).toBe(0);
  },
  { timeout: 90_000 },
);

test(
  "a pull of a branch the peer does not have fails with a clear reason and exit code 1",
  async () => {
    const alice = start("notes-app.ts", memberArgs("alice"));
    const aliceAddr = dialAddress(await alice.waitFor((l) => l.event === "listening"));
    const dave = start("pull-once.ts", ["--pile", team.members.dave!.pile, "--key", team.members.dave!.key, "--cap", team.members.dave!.capability, "--from", aliceAddr, "--branch", "nope"]);
    const failed = await dave.waitFor((l) => l.event === "failed" || l.event === "pulled");
    expect(failed).toMatchObject({ event: "failed", code: "no-such-branch" });
    expect(String(failed.error)).toContain('no branch "nope"');
    expect(await dave.proc.exited).toBe(1);
    expect(await alice.finish()).toBe(0);
  },
  { timeout: 60_000 },
);

test(
  "each layer's entry point (tribles/core, /pile, /repo, /auth, /net) resolves by package name and serves the same classes",
  async () => {
    const app = start("layers.ts", [join(tmp.dir, "layers.pile")]);
    const line = await app.waitFor((l) => l.event === "layers");
    expect(line).toEqual({ event: "layers", notes: ["from the layers"], same: { Pile: true, Repository: true, TeamPolicy: true, Peer: true } });
    expect(await app.proc.exited).toBe(0);
  },
  { timeout: 30_000 },
);
