import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
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
  const show = JSON.parse((await tribles("team", "show", cap, "--pile", "a.pile", "--key", "a.key", "--team-root", team.teamRoot, "--json")).out);
  expect(show.subject).toBe(bob.publicKey);
  expect(show.perms).toEqual(["read"]);
  expect(show.status).toBe("valid");
  const list = JSON.parse((await tribles("team", "list", "--pile", "a.pile", "--key", "a.key", "--team-root", team.teamRoot, "--json")).out);
  expect(list.map((c: { cap: string }) => c.cap).sort()).toEqual([team.cap, cap].sort());

  // Bob (read only) cannot grant write: his capability does not cover it.
  const escalate = await tribles("team", "invite", "ab".repeat(32), "--perm", "write", "--pile", "a.pile", "--key", "b.key", "--team-root", team.teamRoot, "--cap", cap);
  expect(escalate.code).not.toBe(0);

  expect((await tribles("team", "revoke", bob.publicKey, "--pile", "a.pile", "--root-key", "team-root.key")).code).toBe(0);
  const after = JSON.parse((await tribles("team", "show", cap, "--pile", "a.pile", "--key", "a.key", "--team-root", team.teamRoot, "--json")).out);
  expect(after.status).toContain("Revoked");

  const bad = await tribles("team", "invite", "not-a-key", "--pile", "a.pile", "--key", "a.key", ...ctx);
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/^error: invalid peer key/);
}, 60_000);
