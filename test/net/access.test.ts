/**
 * Team access rules that must hold once a member is connected (issue 12, problems 1–3), with real
 * `pile net sync` processes on 127.0.0.1 and a member whose write capability covers one branch:
 * - a head is admitted only as what it claims to be (branch id of the frame and of the metadata,
 *   name, and the branch it merges into agree);
 * - branch ids are team-wide (a branch made from a remote one keeps its id), so a branch-scoped
 *   member's commits on the team's branch arrive;
 * - read scope is not widened by reference (proof of possession).
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chainBlobs } from "../../src/auth/capability.ts";
import { hash } from "../../src/core/blake3.ts";
import { fromHex, toHex } from "../../src/core/bytes.ts";
import { SyncClient } from "../../src/net/client.ts";
import { createHost, parseAddress } from "../../src/net/host.ts";
import { Pile } from "../../src/pile/pile.ts";
import { buildBranchMeta } from "../../src/repo/branch-meta.ts";
import { filesToContent } from "../../src/repo/files.ts";
import { parseKeyFile } from "../../src/repo/keyfile.ts";
import { Repository } from "../../src/repo/repository.ts";
import { attempt, firstAddr, listenFor, makeTeam, run, type Team } from "./e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

interface BranchRow {
  id: string;
  name: string;
  tracking: boolean;
  head: string | null;
  meta: string;
}

const branches = async (t: Team, pile: string): Promise<BranchRow[]> => JSON.parse(await run(t.dir, "pile", "branch", "list", pile, "--json"));
const localBranch = async (t: Team, pile: string, name: string) => (await branches(t, pile)).find((b) => !b.tracking && b.name === name);

/** A team of admin `a` (branches main, other and secret committed) and `m`, who may write `other` only. */
async function teamWithScopedWriter(): Promise<{ t: Team; ids: Record<string, string> }> {
  const t = await makeTeam(["a", "m"], { outsiders: ["m"] });
  await t.commit("a", "main work", { "main.txt": "on main" });
  const a = t.members.a!;
  await Bun.write(join(t.dir, "other.txt"), "on other");
  await run(t.dir, "pile", "commit", a.pile, "--branch", "other", "-m", "other work", "--key", a.key, "other.txt");
  await Bun.write(join(t.dir, "plan.txt"), "classified plan");
  await run(t.dir, "pile", "commit", a.pile, "--branch", "secret", "-m", "secret work", "--key", a.key, "plan.txt");
  const ids = Object.fromEntries((await branches(t, a.pile)).map((b) => [b.name, b.id]));
  const invite = JSON.parse(
    await run(t.dir, "team", "invite", t.members.m!.publicKey, "--perm", "write", "--branch", "other", "--pile", a.pile, "--key", a.key, "--team-root", t.root, "--cap", a.cap!, "--json"),
  );
  expect(invite.branches).toEqual([ids.other]);
  t.members.m!.cap = invite.cap;
  return { t, ids };
}

const keyOf = (t: Team, who: string) => parseKeyFile(readFileSync(join(t.dir, t.members[who]!.key), "utf8"), who);

test("a head announced under the member's branch but naming another branch is refused, and main stays as it was", async () => {
  const { t, ids } = await teamWithScopedWriter();
  team = t;
  const mainBefore = (await localBranch(t, "a.pile", "main"))!.head;
  const otherBefore = (await localBranch(t, "a.pile", "other"))!.head;
  // m forges its pile: under `other`'s id (its capability's branch), metadata that names main —
  // first with main's id, then with other's id but main's name.
  const m = t.members.m!;
  const key = keyOf(t, "m");
  const forge = (branchId: string, stamp: bigint) => {
    const pile = Pile.open(join(t.dir, m.pile));
    try {
      const repo = new Repository(pile, key);
      const { content, blobs } = filesToContent([{ name: "evil.txt", bytes: new TextEncoder().encode(`overwritten ${stamp}`) }]);
      repo.commit("scratch", content, "evil", blobs);
      const scratch = repo.requireBranch("scratch");
      const head = scratch.meta.head!;
      const meta = buildBranchMeta({ branchId: fromHex(branchId), name: "main", head: { handle: head, bytes: pile.reader().get(head)! }, key, timestampNs: stamp });
      pile.putMany(meta.blobs);
      if (!pile.update(scratch.id, scratch.metaHandle, null).ok) throw new Error("could not drop scratch");
      if (!pile.update(fromHex(ids.other!), pile.head(fromHex(ids.other!)), meta.handle).ok) throw new Error("could not forge");
      pile.flush();
    } finally {
      pile.close();
    }
  };
  const now = BigInt(Date.now()) * 1_000_000n + 37_000_000_000n;
  forge(ids.main!, now);

  const aProc = t.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await aProc.waitFor((e) => e.event === "listening"));
  const mProc = t.sync("m", [...listenFor("tcp"), "--peers", aAddr]);
  const refused = await aProc.waitFor((e) => e.event === "rejected");
  expect(refused.publisher).toBe(m.peerId);
  expect(refused.reason).toBe(`announced as branch ${ids.other} but its metadata is branch ${ids.main} ("main")`);

  // The same id in frame and metadata, but main's name: the tracking branch mirrors m's branch, the
  // merge into a's `other` (that id) or `main` (that name) is refused.
  forge(ids.other!, now + 1_000_000_000n);
  const failed = await aProc.waitFor((e) => e.event === "merge-failed");
  expect(failed.publisher).toBe(m.peerId);
  expect(failed.error).toContain(`remote branch ${ids.other} is named "main" but the local branch with that id is named "other"; not merged`);
  await Promise.all([aProc.stop(), mProc.stop()]);
  expect(aProc.events.some((e) => e.event === "merged")).toBe(false);
  expect((await localBranch(t, "a.pile", "main"))!.head).toBe(mainBefore);
  expect((await localBranch(t, "a.pile", "other"))!.head).toBe(otherBefore);
}, 60_000);

test("a member limited to the team's `other` commits on it (its own `other` took the team's id), and the commit arrives and merges", async () => {
  const { t, ids } = await teamWithScopedWriter();
  team = t;
  const aProc = t.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await aProc.waitFor((e) => e.event === "listening"));
  const mProc = t.sync("m", [...listenFor("tcp"), "--peers", aAddr]);
  // m's first merge of other creates its local other under the team's id.
  const created = await mProc.waitFor((e) => e.event === "merged" && e.branch === "other");
  expect(created.kind).toBe("created");
  expect(created.branchId).toBe(ids.other!);
  expect((await localBranch(t, "m.pile", "other"))!.id).toBe(ids.other!);

  const m = t.members.m!;
  await Bun.write(join(t.dir, "m.txt"), "from the member");
  const commit = JSON.parse(await run(t.dir, "pile", "commit", m.pile, "--branch", "other", "-m", "member work", "--key", m.key, "--json", "m.txt")).commit;
  const merged = await aProc.waitFor((e) => e.event === "merged" && e.head === commit);
  expect(merged.branch).toBe("other");
  expect(merged.kind).toBe("fast-forward");
  await Promise.all([aProc.stop(), mProc.stop()]);
  expect((await localBranch(t, "a.pile", "other"))!.id).toBe(ids.other!);
  const log = JSON.parse(await run(t.dir, "pile", "log", "a.pile", "--branch", "other", "--json"));
  expect(log.map((c: { message: string }) => c.message)).toEqual(["member work", "other work"]);
  // The capability the team handed out is shown against the branches that carry its id.
  const listed: (BranchRow & { grants?: string[] })[] = JSON.parse(await run(t.dir, "pile", "branch", "list", "a.pile", "--json", "--cap", m.cap!, "--team-root", t.root));
  const grants = (b: BranchRow & { grants?: string[] }) => [b.name, b.tracking, b.grants];
  expect(listed.map(grants).sort()).toEqual([["main", false, []], ["other", false, ["write"]], ["other", true, ["write"]], ["secret", false, []]]);
}, 60_000);

test("a member limited to `other` cannot widen its read scope by committing a reference to the secret branch", async () => {
  const { t, ids } = await teamWithScopedWriter();
  team = t;
  const secret = (await localBranch(t, "a.pile", "secret"))!;
  const planHash = toHex(hash(new TextEncoder().encode("classified plan")));
  const aProc = t.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await aProc.waitFor((e) => e.event === "listening"));
  const mProc = t.sync("m", [...listenFor("tcp"), "--peers", aAddr]);
  const mAddr = firstAddr(await mProc.waitFor((e) => e.event === "listening"));
  await mProc.waitFor((e) => e.event === "merged" && e.branch === "other");
  // Gossip told m the secret branch's metadata handle; m commits on `other` a file whose bytes are
  // that handle (a 32-byte chunk: a child reference, as far as closures go). a holds the blob.
  const m = t.members.m!;
  writeFileSync(join(t.dir, "ref.bin"), fromHex(secret.meta));
  const commit = JSON.parse(await run(t.dir, "pile", "commit", m.pile, "--branch", "other", "-m", "borrow", "--key", m.key, "--json", "ref.bin")).commit;
  const refused = await aProc.waitFor((e) => e.event === "head-refused");
  expect(refused.publisher).toBe(m.peerId);
  expect(refused.branchId).toBe(ids.other!);
  expect(refused.reason).toBe(`its head references blob ${secret.meta}, which it may not read here and did not produce`);
  expect(aProc.events.some((e) => e.event === "merged" && e.head === commit)).toBe(false);
  // Pulled from m instead, the same head is refused the same way (the server presents no
  // capability: it is taken to read a's `other`), and a's tracking of m's `other` stays.
  const a = t.members.a!;
  const trackedBefore = (await branches(t, a.pile)).filter((b) => b.tracking).map((b) => b.head);
  const pulled = await attempt(t.dir, "pile", "net", "pull", a.pile, mAddr, "--branch", "other", "--key", a.key, "--team-root", t.root, "--cap", a.cap!);
  expect(pulled.code).toBe(1);
  expect(pulled.err.trim()).toBe(`error: refused other from ${m.peerId}: its head references blob ${secret.meta}, which it may not read here and did not produce`);
  expect((await branches(t, a.pile)).filter((b) => b.tracking).map((b) => b.head)).toEqual(trackedBefore);
  await mProc.stop();

  // m then reads what it can from a: pulling `other` brings nothing of the secret branch, and
  // asking for its blobs by hash gets nothing.
  await run(t.dir, "pile", "net", "pull", m.pile, aAddr, "--branch", "other", "--key", m.key, "--team-root", t.root, "--cap", m.cap!);
  const mBlobs: string[] = JSON.parse(await run(t.dir, "pile", "blob", "list", m.pile, "--json"));
  expect(mBlobs).not.toContain(secret.meta);
  expect(mBlobs).not.toContain(planHash);
  const host = await createHost({ key: keyOf(t, "m"), listen: [], dht: false });
  try {
    const pile = Pile.open(join(t.dir, m.pile));
    const credentials = { capHandle: fromHex(m.cap!), chain: [] as Uint8Array[] };
    try {
      credentials.chain = chainBlobs(credentials.capHandle, pile.reader());
    } finally {
      pile.close();
    }
    const client = await SyncClient.connect(host, parseAddress(aAddr).addr, credentials, AbortSignal.timeout(10_000));
    expect(await client.getBlobs([fromHex(secret.meta), fromHex(planHash)])).toEqual([null, null]);
    await client.close();
  } finally {
    await host.stop();
  }
  await aProc.stop();
  expect((await localBranch(t, "a.pile", "other"))!.head).not.toBeNull();
}, 60_000);
