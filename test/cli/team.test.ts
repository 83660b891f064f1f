import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issueCapability } from "../../src/auth/capability.ts";
import { withPile } from "../../src/cli/common.ts";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { MemoryStore } from "../../src/core/memory-store.ts";
import { TribleSet } from "../../src/core/tribleset.ts";
import { parseKeyFile } from "../../src/repo/keyfile.ts";
import { Repository } from "../../src/repo/repository.ts";
import { applyRemoteHead } from "../../src/repo/tracking.ts";
import { CLI } from "../net/e2e-helpers.ts";
import { tempDir } from "../pile/helpers.ts";

let tmp = tempDir();
afterEach(() => {
  tmp.cleanup();
  tmp = tempDir();
});

async function tribles(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([...CLI, ...args], { cwd: tmp.dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, TRIBLE_TEAM_ROOT: "", TRIBLE_TEAM_CAP: "" } });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

test("team create, invite, list, show and revoke through the CLI", async () => {
  await tribles("pile", "create", "a.pile");
  await tribles("pile", "net", "identity", "--create", "--key", "a.key");
  const bob = JSON.parse((await tribles("pile", "net", "identity", "--create", "--key", "b.key", "--json")).out);
  const team = JSON.parse((await tribles("team", "create", "--pile", "a.pile", "--key", "a.key", "--json")).out);
  expect(statSync(join(tmp.dir, "team-root.key")).mode & 0o777).toBe(0o600);
  const ctx = ["--team-root", team.teamRoot, "--cap", team.cap];
  // Invite by PeerId as well as by hex key.
  const invite = await tribles("team", "invite", bob.peerId, "--perm", "read", "--expires", "12h", "--pile", "a.pile", "--key", "a.key", ...ctx, "--json");
  expect(invite.code).toBe(0);
  const cap = JSON.parse(invite.out).cap;
  const show = JSON.parse((await tribles("team", "show", cap, "--pile", "a.pile", "--team-root", team.teamRoot, "--json")).out);
  expect(show.subject).toBe(bob.publicKey);
  expect(show.perms).toEqual(["read"]);
  expect(show.status).toBe("valid (expires in 12 hours)"); // under 7 days left: marked
  const list = JSON.parse((await tribles("team", "list", "--pile", "a.pile", "--team-root", team.teamRoot, "--json")).out);
  expect(list.map((c: { cap: string }) => c.cap).sort()).toEqual([team.cap, cap].sort());

  // Bob (read only) cannot grant write: his capability does not cover it.
  const escalate = await tribles("team", "invite", "ab".repeat(32), "--perm", "write", "--pile", "a.pile", "--key", "b.key", "--team-root", team.teamRoot, "--cap", cap);
  expect(escalate.code).not.toBe(0);

  expect((await tribles("team", "revoke", bob.publicKey, "--pile", "a.pile", "--root-key", "team-root.key")).code).toBe(0);
  const after = JSON.parse((await tribles("team", "show", cap, "--pile", "a.pile", "--team-root", team.teamRoot, "--json")).out);
  expect(after.status).toContain("Revoked");

  const bad = await tribles("team", "invite", "not-a-key", "--pile", "a.pile", "--key", "a.key", ...ctx);
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/^error: invalid peer key/);
}, 60_000);

/** A pile with a team created by a.key; returns the team's root and cap, and the CLI context flags. */
async function setupTeam(...createArgs: string[]) {
  await tribles("pile", "create", "a.pile");
  await tribles("pile", "net", "identity", "--create", "--key", "a.key");
  const created = await tribles("team", "create", "--pile", "a.pile", "--key", "a.key", "--json", ...createArgs);
  expect(created.code).toBe(0);
  const team = JSON.parse(created.out) as { teamRoot: string; cap: string; expires: string };
  return { ...team, ctx: ["--team-root", team.teamRoot, "--cap", team.cap] };
}

const someKey = "ab".repeat(32);

test("invite and list refuse to guess the team root; invite needs a valid admin capability", async () => {
  const team = await setupTeam();
  const noRoot = await tribles("team", "invite", someKey, "--perm", "write", "--pile", "a.pile", "--key", "a.key", "--cap", team.cap);
  expect(noRoot.code).toBe(1);
  expect(noRoot.err).toBe('error: team invite needs the team root: pass --team-root HEX or set $TRIBLE_TEAM_ROOT (`tribles team create` printed it as "team root")');
  const listNoRoot = await tribles("team", "list", "--pile", "a.pile");
  expect(listNoRoot.err).toMatch(/^error: team list needs the team root: pass --team-root/);
  expect((await tribles("team", "show", team.cap, "--pile", "a.pile")).err).toMatch(/^error: team show needs the team root/);

  const noCap = await tribles("team", "invite", someKey, "--perm", "write", "--pile", "a.pile", "--key", "a.key", "--team-root", team.teamRoot);
  expect(noCap.err).toMatch(/^error: team invite needs your capability: pass --cap HEX or set \$TRIBLE_TEAM_CAP/);
  // A root that is not the one the capability was issued under.
  const wrongRoot = await tribles("team", "invite", someKey, "--pile", "a.pile", "--key", "a.key", "--team-root", "cd".repeat(32), "--cap", team.cap);
  expect(wrongRoot.err).toMatch(/^error: your capability does not verify against team root cdcd/);

  // A write member may not invite: only admins hand out capabilities.
  const bob = JSON.parse((await tribles("pile", "net", "identity", "--create", "--key", "b.key", "--json")).out);
  const bobCap = JSON.parse((await tribles("team", "invite", bob.publicKey, "--perm", "write", "--pile", "a.pile", "--key", "a.key", ...team.ctx, "--json")).out).cap;
  const byBob = await tribles("team", "invite", someKey, "--perm", "read", "--pile", "a.pile", "--key", "b.key", "--team-root", team.teamRoot, "--cap", bobCap);
  expect(byBob.code).toBe(1);
  expect(byBob.err).toBe("error: your capability grants write, not admin: only an admin can invite");

  const list = JSON.parse((await tribles("team", "list", "--pile", "a.pile", "--team-root", team.teamRoot, "--json")).out);
  expect(list.map((c: { status: string }) => c.status)).toEqual(["valid", "valid"]);
}, 60_000);

test("team create's admin capability lasts ten years by default, and children never outlive it", async () => {
  const team = await setupTeam();
  const years = (Date.parse(team.expires) - Date.now()) / (365.25 * 86_400_000);
  expect(years).toBeGreaterThan(9.9);
  expect(years).toBeLessThan(10.1);

  tmp.cleanup();
  tmp = tempDir();
  const short = await setupTeam("--expires", "5d");
  const text = await tribles("team", "show", short.cap, "--pile", "a.pile", "--team-root", short.teamRoot);
  expect(text.out).toContain(`expires   ${short.expires}`);
  // Asking for more than the parent has is refused...
  const tooLong = await tribles("team", "invite", someKey, "--perm", "read", "--expires", "400d", "--pile", "a.pile", "--key", "a.key", ...short.ctx);
  expect(tooLong.code).toBe(1);
  expect(tooLong.err).toBe(`error: --expires 400d would outlive your capability, which expires ${short.expires}: a capability cannot outlive its parent`);
  // ...while the default (30 days) is cut to the parent's end, and says so.
  const clamped = await tribles("team", "invite", someKey, "--perm", "read", "--pile", "a.pile", "--key", "a.key", ...short.ctx, "--json");
  expect(clamped.code).toBe(0);
  expect(clamped.err).toBe(`note: the new capability expires ${short.expires}, with yours (a capability cannot outlive its parent)`);
  expect(JSON.parse(clamped.out).expires).toBe(short.expires);

  // Capabilities that end within 7 days are marked.
  const list = await tribles("team", "list", "--pile", "a.pile", "--team-root", short.teamRoot);
  const lines = list.out.split("\n");
  expect(lines).toHaveLength(2);
  for (const line of lines) expect(line).toMatch(/valid \(expires in 5 days\)$/);
}, 60_000);

test("--expires takes durations and dates and rejects everything else with one line", async () => {
  const team = await setupTeam();
  const invite = (expires: string) => tribles("team", "invite", someKey, "--perm", "read", `--expires=${expires}`, "--pile", "a.pile", "--key", "a.key", ...team.ctx, "--json");
  for (const bad of ["30", "0d", "-5d", "abc", "99999999d", "2020-01-01", "2027-02-30", "5x", "1.5d"]) {
    const r = await invite(bad);
    expect(r.code).toBe(1);
    expect(r.err.split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/^error: --expires /);
  }
  expect((await invite("30")).err).toBe('error: --expires 30: expected a duration like 30d or a date like 2027-06-30');
  expect((await invite("0d")).err).toBe("error: --expires 0d: must be longer than zero");
  expect((await invite("99999999d")).err).toBe("error: --expires 99999999d: ends after the year 9999");
  expect((await invite("2020-01-01")).err).toBe("error: --expires 2020-01-01: that is in the past");

  const inTwoWeeks = JSON.parse((await invite("2w")).out).expires;
  expect(Math.abs(Date.parse(inTwoWeeks) - Date.now() - 14 * 86_400_000)).toBeLessThan(60_000);
  const nextYear = new Date().getUTCFullYear() + 1;
  expect(JSON.parse((await invite(`${nextYear}-06-30`)).out).expires).toBe(`${nextYear}-06-30T00:00:00.000Z`);
  expect(JSON.parse((await invite("12h")).out).expires).toBeDefined();
  // Plain `--expires 30` (a value cac turns into a number) gets the same message, not a crash.
  const spaced = await tribles("team", "invite", someKey, "--expires", "30", "--pile", "a.pile", "--key", "a.key", ...team.ctx);
  expect(spaced.err).toBe('error: --expires 30: expected a duration like 30d or a date like 2027-06-30');
}, 60_000);

test("team show prints an expiry past year 9999 instead of failing", async () => {
  const team = await setupTeam();
  const root = parseKeyFile(readFileSync(join(tmp.dir, "team-root.key"), "utf8"), "team-root.key");
  const far = issueCapability({ issuer: root, subject: SigningKey.generate().publicKey, perms: ["read"], expires: { lower: 0n, upper: (1n << 126n) } });
  await withPile(join(tmp.dir, "a.pile"), (pile) => pile.putMany([far.blob, far.sigBlob]));
  const show = await tribles("team", "show", toHex(far.sigHandle), "--pile", "a.pile", "--team-root", team.teamRoot, "--json");
  expect(show.code).toBe(0);
  expect(JSON.parse(show.out).expires).toBe("after 9999-12-31");
}, 60_000);

test("team revoke finds team-root.key beside the pile, then in the current directory", async () => {
  mkdirSync(join(tmp.dir, "sub"));
  await tribles("pile", "create", "sub/a.pile");
  await tribles("pile", "net", "identity", "--create", "--key", "a.key");
  const team = JSON.parse((await tribles("team", "create", "--pile", "sub/a.pile", "--key", "a.key", "--json")).out);
  expect(team.rootKeyFile).toBe(join(tmp.dir, "sub", "team-root.key"));
  const beside = await tribles("team", "revoke", someKey, "--pile", "sub/a.pile");
  expect(beside.code).toBe(0);
  expect(beside.out).toContain(`signed with ${join(tmp.dir, "sub", "team-root.key")}`);
  expect(beside.err).toBe("");

  // Without one beside the pile, the current directory's is used.
  renameSync(join(tmp.dir, "sub", "team-root.key"), join(tmp.dir, "team-root.key"));
  const here = await tribles("team", "revoke", someKey, "--pile", "sub/a.pile");
  expect(here.code).toBe(0);
  const list = JSON.parse((await tribles("team", "list", "--pile", "sub/a.pile", "--team-root", team.teamRoot, "--json")).out);
  expect(list).toHaveLength(1); // revocations are not listed as capabilities

  // A root key that does not belong to the given team root is refused rather than silently useless.
  const other = await tribles("team", "revoke", someKey, "--pile", "sub/a.pile", "--team-root", "cd".repeat(32));
  expect(other.err).toMatch(/^error: .*team-root\.key holds the secret of team root [0-9a-f]{64}, not of cdcd/);

  rmSync(join(tmp.dir, "team-root.key"));
  const none = await tribles("team", "revoke", someKey, "--pile", "sub/a.pile");
  expect(none.code).toBe(1);
  expect(none.err).toMatch(/^error: team revoke needs the team root secret: no team-root\.key beside the pile or in the current directory; pass --root-key FILE or set \$TRIBLE_TEAM_ROOT_SECRET$/);
}, 60_000);

test("a team root key file other users can read is used, with a warning", async () => {
  await setupTeam();
  chmodSync(join(tmp.dir, "team-root.key"), 0o644);
  const r = await tribles("team", "revoke", someKey, "--pile", "a.pile");
  expect(r.code).toBe(0);
  expect(r.err).toBe(`warning: ${join(tmp.dir, "team-root.key")} is readable by others (mode 0644); chmod 600 it`);
  chmodSync(join(tmp.dir, "team-root.key"), 0o600);
  expect((await tribles("team", "revoke", someKey, "--pile", "a.pile", "--root-key", "team-root.key")).err).toBe("");
}, 60_000);

test("team list still lists the capabilities of a pile that holds a damaged blob", async () => {
  const team = await setupTeam();
  // A large file blob, damaged: a listing that read every blob would fail on it.
  writeFileSync(join(tmp.dir, "big.bin"), new Uint8Array(100_000).fill(3));
  await tribles("pile", "blob", "put", "a.pile", "big.bin");
  const path = join(tmp.dir, "a.pile");
  const bytes = new Uint8Array(readFileSync(path));
  const at = bytes.length - 5000; // inside the large blob just appended
  bytes[at]! ^= 1;
  writeFileSync(path, bytes);
  const list = await tribles("team", "list", "--pile", "a.pile", "--team-root", team.teamRoot, "--json");
  expect(list.code).toBe(0);
  expect(JSON.parse(list.out).map((c: { cap: string }) => c.cap)).toEqual([team.cap]);
}, 30_000);

test("invite --branch names a branch id and says which: the local branch, else the one its tracking branches mirror", async () => {
  const team = await setupTeam();
  // A peer's "main" arrives as a tracking branch (what a pull leaves).
  const remote = new MemoryStore();
  const peerKey = SigningKey.generate();
  new Repository(remote, peerKey).commit("main", new TribleSet(), "remote");
  const remoteMain = new Repository(remote).requireBranch("main");
  await withPile(join(tmp.dir, "a.pile"), (pile) => {
    const reader = remote.reader();
    pile.putMany([...reader.list()].map((h) => reader.get(h)!));
    expect(applyRemoteHead(pile, peerKey.publicKey, remoteMain.metaHandle, remoteMain.id).status).toBe("applied");
  });
  const invite = (...extra: string[]) => tribles("team", "invite", someKey, "--perm", "write", "--branch", "main", "--pile", "a.pile", "--key", "a.key", ...team.ctx, "--json", ...extra);
  const tracked = await invite();
  expect(tracked.code).toBe(0);
  expect(JSON.parse(tracked.out).branches).toEqual([toHex(remoteMain.id)]);
  expect(tracked.err).toBe(`note: --branch main grants branch ${toHex(remoteMain.id)} (tracked from a peer)`);
  // A "main" created here independently is another branch: the local one is granted, and the note says the other is not.
  await withPile(join(tmp.dir, "a.pile"), (pile) => new Repository(pile).createBranch("main"));
  const local = await invite();
  const localId = JSON.parse(local.out).branches[0];
  expect(localId).not.toBe(toHex(remoteMain.id));
  expect(local.err.split("\n")).toEqual([
    `note: --branch main grants branch ${localId}`,
    `note: peers also have a branch named "main" with another id (${toHex(remoteMain.id)}), created independently: this capability does not cover it`,
  ]);
  const unknown = await invite("--branch", "nope");
  expect(unknown.err).toBe("error: --branch nope: no branch of that name here (see `tribles pile branch list`); give a branch id to grant one this pile does not hold");
}, 60_000);
