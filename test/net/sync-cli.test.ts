/**
 * `tribles pile net sync / pull / identity` as a user meets them, through the real CLI: a second
 * process with a healthy peer's key, peers that come up late, ports in use, bad addresses, dead
 * QUIC ports, and which key `identity` shows.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { plural } from "../../src/cli/net-actions.ts";
import { startSyncProcess } from "../../src/cli/sync-process.ts";
import { attempt, CLI, firstAddr, listenFor, makeTeam, run, type Team } from "./e2e-helpers.ts";
import { until } from "./fixtures/until.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const received = (head: string) => (e: { event: string; head?: unknown }) => e.event === "received" && e.head === head;

describe("a failed AUTH with a healthy peer's key", () => {
  test("a failing pull and a second sync process with B's key leave B's own session working", async () => {
    team = await makeTeam(["a", "b"]);
    const a = team.sync("a", listenFor("tcp"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const b = team.sync("b", [...listenFor("tcp"), "--peers", aAddr]);
    await a.waitFor((e) => e.event === "auth" && e.accepted === true);
    await b.waitFor((e) => e.event === "auth" && e.accepted === true);

    // A one-shot pull with B's key but no capability is refused…
    await run(team.dir, "pile", "create", "scratch.pile");
    const pull = await attempt(team.dir, "pile", "net", "pull", "scratch.pile", aAddr, "--key", "b.key", "--team-root", team.root);
    expect(pull.code).not.toBe(0);
    expect(pull.err).toContain("refused our capability: no capability was presented");
    const refused = await a.waitFor((e) => e.event === "auth" && e.accepted === false);
    expect(refused.reason).toBe("no capability presented");
    // …and B's next commit still reaches A.
    const first = await team.commit("b", "after the failed pull", { "b1.txt": "one" });
    await a.waitFor(received(first), 10_000);

    // The same with a second sync process started without B's capability.
    const second = startSyncProcess(CLI, ["scratch.pile", "--key", "b.key", "--team-root", team.root, ...listenFor("tcp"), "--peers", aAddr], team.dir, "b-without-cap");
    try {
      await until(() => a.events.filter((e) => e.event === "auth" && e.accepted === false).length >= 2);
      const next = await team.commit("b", "while a second process runs", { "b2.txt": "two" });
      await a.waitFor(received(next), 10_000);
    } finally {
      await second.stop();
    }
    expect(a.events.some((e) => e.event === "gossip-dropped")).toBe(false);
  }, 60_000);
});

test("a given peer that is down at start is dialled again, with growing waits, until it comes up", async () => {
  team = await makeTeam(["a", "b"]);
  // Learn a free port A can listen on, then stop A: B starts while nobody listens there.
  const first = team.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await first.waitFor((e) => e.event === "listening"));
  await first.stop();
  const b = team.sync("b", [...listenFor("tcp"), "--peers", aAddr]);
  await b.waitFor((e) => e.event === "dial-failed" && e.retryInMs === 2000);
  expect(b.events.filter((e) => e.event === "dial-failed").map((e) => e.retryInMs)).toEqual([1000, 2000]);

  const a = team.sync("a", ["--listen", aAddr.replace(/\/p2p\/.*$/, "")]);
  await b.waitFor((e) => e.event === "connected" && e.addr === aAddr, 10_000);
  await a.waitFor((e) => e.event === "auth" && e.accepted === true);
  const head = await team.commit("a", "after the late start", { "late.txt": "late" });
  await b.waitFor(received(head), 10_000);

  // A restart of A is a dropped connection: B dials again and says so.
  await a.stop();
  const again = team.sync("a", ["--listen", aAddr.replace(/\/p2p\/.*$/, "")]);
  await again.waitFor((e) => e.event === "listening");
  await until(() => b.events.filter((e) => e.event === "connected").length >= 2, 15_000);
}, 60_000);

describe("clear one-line errors", () => {
  test("a listen port in use, bad --peers and --listen, a bad peer id: one line, exit 1", async () => {
    team = await makeTeam(["a"]);
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      // With its team settings, so the only stderr line is the error.
      const member = ["--key", "a.key", "--team-root", team.root, "--cap", team.members.a!.cap!];
      const sync = (...extra: string[]) => attempt(team!.dir, "pile", "net", "sync", "a.pile", ...member, ...extra);
      const cases: [string[], string][] = [
        [["--listen", `/ip4/127.0.0.1/tcp/${taken.port}`], `error: cannot listen on /ip4/127.0.0.1/tcp/${taken.port}: address already in use`],
        [["--peers", "garbage"], 'error: --peers: "garbage" is neither a multiaddr (/ip4/…/p2p/…), a PeerId (12D3KooW…) nor a public key (64 hex characters)'],
        [["--listen", "/ip4/1.2.3"], 'error: --listen: invalid multiaddr "/ip4/1.2.3"'],
        [["--peers", "/ip4/127.0.0.1/tcp/1/p2p/garbage"], 'error: --peers: invalid peer id "garbage"'],
      ];
      for (const [extra, message] of cases) {
        const result = await sync(...extra);
        expect(result.code).toBe(1);
        expect(result.err.trim().split("\n")).toHaveLength(1);
        expect(result.err).toContain(message);
      }
      const quicInUse = await sync("--listen", `/ip4/127.0.0.1/udp/${udp.port}/quic-v1`);
      expect(quicInUse.code).toBe(1);
      expect(quicInUse.err.trim().split("\n")).toHaveLength(1);
      expect(quicInUse.err).toContain(`error: cannot listen on /ip4/127.0.0.1/udp/${udp.port}/quic-v1`);

      const pull = await attempt(team.dir, "pile", "net", "pull", "a.pile", "/ip4/127.0.0.1/tcp/1/p2p/garbage", "--key", "a.key");
      expect(pull.code).toBe(1);
      expect(pull.err.trim()).toBe('error: invalid peer id "garbage" in /ip4/127.0.0.1/tcp/1/p2p/garbage (expected a PeerId such as 12D3KooW…, see `tribles pile net identity`)');
    } finally {
      taken.stop(true);
      udp.close();
    }
  }, 30_000);

  // QUIC has no reset: nothing tells the dialler that nobody listens. The pull must end by its own
  // dial timeout (about 3 s), well inside this test's bound, rather than wait forever.
  test("a pull from a QUIC port nobody listens on fails on its own; QUIC pulls still work", async () => {
    team = await makeTeam(["a", "b"]);
    const b = team.members.b!;
    const pullFrom = (addr: string) => attempt(team!.dir, "pile", "net", "pull", b.pile, addr, "--key", b.key, "--team-root", team!.root, "--cap", b.cap!, "--json");
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const deadPort = udp.port;
    udp.close(); // a port that was free a moment ago, now with nobody behind it
    const dead = await pullFrom(`/ip4/127.0.0.1/udp/${deadPort}/quic-v1/p2p/${team.members.a!.peerId}`);
    expect(dead.code).toBe(1);
    expect(dead.err).toContain("cannot reach");

    const head = await team.commit("a", "over quic", { "q.txt": "quic" });
    const a = team.sync("a", listenFor("quic"));
    const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
    const pulled = await pullFrom(aAddr);
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.out).status).toBe("applied");
    const shown = JSON.parse(await run(team.dir, "pile", "branch", "show", b.pile, JSON.parse(pulled.out).tracking, "--json"));
    expect(shown.head).toBe(head);
  }, 30_000);
});

test("identity finds the key as sync and commit do: beside the pile, --key, or ./self.key with no pile", async () => {
  team = await makeTeam(["a"]);
  const dir = team.dir;
  mkdirSync(join(dir, "laptop"));
  await run(dir, "pile", "create", "laptop/notes.pile");
  const created = await run(dir, "pile", "net", "identity", "laptop/notes.pile", "--create");
  expect(created).toContain(`key file    ${join(dir, "laptop", "self.key")} (created)`);
  const kept = await run(dir, "pile", "net", "identity", "--pile", "laptop/notes.pile", "--create");
  expect(kept).toContain("(already existed, kept)");
  const shown = JSON.parse(await run(dir, "pile", "net", "identity", "laptop/notes.pile", "--json"));
  expect(shown.created).toBe(false);
  expect(shown.keyFile).toBe(join(dir, "laptop", "self.key"));

  // A commit on that pile (no --key) is signed with the key identity showed.
  await Bun.write(join(dir, "n.txt"), "note");
  await run(dir, "pile", "commit", "laptop/notes.pile", "-m", "note", "n.txt");
  const [commit] = JSON.parse(await run(dir, "pile", "log", "laptop/notes.pile", "--json"));
  expect(commit.author).toBe(shown.publicKey);

  // --key wins; with no pile, ./self.key in the current directory (as before).
  expect(JSON.parse(await run(dir, "pile", "net", "identity", "laptop/notes.pile", "--key", "a.key", "--json")).publicKey).toBe(team.members.a!.publicKey);
  const here = JSON.parse(await run(dir, "pile", "net", "identity", "--create", "--json"));
  expect(here.keyFile).toBe(join(dir, "self.key"));
  expect(here.created).toBe(true);
  expect(here.publicKey).not.toBe(shown.publicKey);
}, 30_000);

test("counts read as English", () => {
  expect(plural(1, "blob")).toBe("1 blob");
  expect(plural(0, "blob")).toBe("0 blobs");
  expect(plural(2, "byte")).toBe("2 bytes");
});

describe("team settings that make a sync hear nothing", () => {
  test("no team root, or a team root without a capability, is said on stderr at start", async () => {
    team = await makeTeam(["a"]);
    const firstStderrLines = async (extra: string[]) => {
      const proc = Bun.spawn([...CLI, "pile", "net", "sync", "a.pile", "--key", "a.key", "--listen", "/ip4/127.0.0.1/tcp/0", ...extra], {
        cwd: team!.dir,
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, TRIBLE_TEAM_ROOT: "", TRIBLE_TEAM_CAP: "" },
      });
      // Listening means start-up (and its warnings) is over.
      const reader = proc.stdout.getReader();
      let out = "";
      const timer = setTimeout(() => proc.kill(), 15_000);
      while (!out.includes("listening")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      proc.kill("SIGINT");
      await proc.exited;
      clearTimeout(timer);
      return new Response(proc.stderr).text();
    };
    expect(await firstStderrLines([])).toContain("warning: no team root");
    const noCap = await firstStderrLines(["--team-root", team.root]);
    expect(noCap).toContain("warning: no capability");
    expect(noCap).not.toContain("no team root");
    expect(await firstStderrLines(["--team-root", team.root, "--cap", team.members.a!.cap!])).not.toContain("warning");
  }, 60_000);
});
