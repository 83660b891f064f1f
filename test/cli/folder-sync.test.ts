/**
 * A week of use between two laptops, as real processes: a folder checked out on each, edited and
 * committed on both sides through a running `pile net sync`, a local edit kept when the other
 * side's version arrives, the same file edited on both sides while apart (a conflict copy on both
 * peers, and who merged in the log), nested paths, a delete and a rename.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SyncEvent, SyncProcess } from "../../src/cli/sync-process.ts";
import { attempt, firstAddr, listenFor, makeTeam, run, type Team } from "../net/e2e-helpers.ts";

let team: Team | undefined;
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
});

const mergedTo = (head: string) => (e: SyncEvent) => e.event === "merged" && e.head === head;

describe("a synced folder between two peers", () => {
  test("edits on both sides, clean files updated and dirty ones kept, conflict copies on both peers, nested paths, delete and rename", async () => {
    team = await makeTeam(["a", "b"]);
    const t = team;
    const dir = t.dir;
    const file = (p: string) => join(dir, p);
    const read = (p: string) => readFileSync(file(p), "utf8");
    const write = (p: string, body: string) => {
      mkdirSync(join(file(p), ".."), { recursive: true });
      writeFileSync(file(p), body);
    };
    const tribles = (...args: string[]) => run(dir, ...args);
    const commitFrom = async (m: "a" | "b", msg: string) => JSON.parse(await tribles("pile", "commit", `${m}.pile`, "--from", `w${m}`, "-m", msg, "--key", `${m}.key`, "--json"));
    const checkout = async (m: "a" | "b") => JSON.parse(await tribles("pile", "checkout", `${m}.pile`, "--out", `w${m}`, "--json"));
    const headOf = async (m: "a" | "b") => JSON.parse(await tribles("pile", "branch", "show", `${m}.pile`, "main", "--json")).head as string;
    const startBoth = async (): Promise<[SyncProcess, SyncProcess]> => {
      const a = t.sync("a", listenFor("tcp"));
      const addr = firstAddr(await a.waitFor((e) => e.event === "listening"));
      const b = t.sync("b", ["--peers", addr]);
      await a.waitFor((e) => e.event === "auth" && e.accepted === true);
      return [a, b];
    };

    // Monday: A starts a folder with nested paths and an ignore file; B gets it.
    write("wa/notes.md", "notes v1");
    write("wa/plans/2027/todo.md", "todo v1");
    write("wa/scratch.tmp", "not synced");
    write("wa/.triblesignore", "*.tmp\n");
    const first = await commitFrom("a", "start");
    let [a, b] = await startBoth();
    await b.waitFor(mergedTo(first.commit));
    await checkout("b");
    expect(read("wb/plans/2027/todo.md")).toBe("todo v1");
    expect(existsSync(file("wb/scratch.tmp"))).toBe(false);

    // Tuesday: each side edits a different file and commits; the other's checkout updates its clean copy.
    write("wa/notes.md", "notes v2 by a");
    const tue = await commitFrom("a", "a edits notes");
    await b.waitFor(mergedTo(tue.commit));
    write("wb/plans/2027/todo.md", "todo v2 by b");
    const tueB = await commitFrom("b", "b edits todo");
    expect(tueB.checkout.written).toEqual(["notes.md"]); // committing the folder also brings A's newer notes
    await a.waitFor(mergedTo(tueB.commit));
    const updatedA = await checkout("a");
    expect(updatedA.written).toEqual(["plans/2027/todo.md"]);
    expect(read("wa/plans/2027/todo.md")).toBe("todo v2 by b");
    expect(read("wb/notes.md")).toBe("notes v2 by a");

    // Wednesday: B edits notes without committing; A's newer notes arrive; B's checkout keeps the edit.
    write("wb/notes.md", "notes edited on b, not committed");
    write("wa/notes.md", "notes v3 by a");
    const wed = await commitFrom("a", "a edits notes again");
    await b.waitFor(mergedTo(wed.commit));
    const kept = await checkout("b");
    expect(kept.kept).toEqual([{ path: "notes.md", why: "edited" }]);
    expect(read("wb/notes.md")).toBe("notes edited on b, not committed");
    // B commits its folder: A's version stays at the path, B's is committed beside it.
    const wedB = await commitFrom("b", "b's notes");
    expect(wedB.conflicts).toHaveLength(1);
    const copyB = wedB.conflicts[0].copy as string;
    expect(copyB).toMatch(/^notes\.sync-conflict-\d{8}-\d{6}-[0-9A-F]{7}\.md$/);
    expect(read("wb/notes.md")).toBe("notes v3 by a");
    expect(read(`wb/${copyB}`)).toBe("notes edited on b, not committed");
    await a.waitFor(mergedTo(wedB.commit));
    await checkout("a");
    expect(read(`wa/${copyB}`)).toBe("notes edited on b, not committed");

    // Thursday, apart: both edit todo and commit; on reconnecting, the merge keeps both, on both peers.
    await a.stop();
    await b.stop();
    write("wa/plans/2027/todo.md", "todo v3 by a");
    await commitFrom("a", "a's todo");
    write("wb/plans/2027/todo.md", "todo v3 by b");
    await commitFrom("b", "b's todo");
    [a, b] = await startBoth();
    const merge = await a.waitFor((e) => e.event === "merged");
    await b.waitFor(mergedTo(merge.head as string));
    const conflicted = [...a.events, ...b.events].find((e) => e.event === "merged" && (e.conflicts as unknown[]).length > 0);
    expect(conflicted?.conflicts).toEqual([{ path: "plans/2027/todo.md", copy: expect.stringMatching(/^plans\/2027\/todo\.sync-conflict-/) }]);
    // Who merged shows in the log on both peers: the key that signed the branch update adopting the merge.
    const mergers = [a, b].filter((p) => p.events.some((e) => e.event === "merged" && e.kind === "merge" && e.head === merge.head));
    const keyOf = (p: SyncProcess) => (p === a ? t.members.a! : t.members.b!).publicKey;
    for (const m of ["a", "b"] as const) {
      const log = JSON.parse(await tribles("pile", "log", `${m}.pile`, "-n", "3", "--json"));
      expect(log[0]).toMatchObject({ hash: merge.head, merge: true, signature: "unsigned" });
      expect(log[0].mergedBy).toContain(keyOf(mergers[0]!));
      expect(log.slice(1).map((c: { signature: string }) => c.signature)).toEqual(["ok", "ok"]);
      expect(await tribles("pile", "log", `${m}.pile`, "-n", "1")).toContain(`merged by ${log[0].mergedBy[0]}`);
    }
    const files = async (m: "a" | "b") => JSON.parse(await tribles("pile", "files", `${m}.pile`, "--json")).files.map((f: { path: string; content: string }) => `${f.path} ${f.content}`);
    expect(await files("a")).toEqual(await files("b"));
    for (const m of ["a", "b"] as const) {
      await checkout(m);
      const copies = readdirSync(file(`w${m}/plans/2027`)).filter((n) => n.includes(".sync-conflict-"));
      expect(copies).toHaveLength(1);
      expect([read(`w${m}/plans/2027/todo.md`), read(`w${m}/plans/2027/${copies[0]}`)].sort()).toEqual(["todo v3 by a", "todo v3 by b"]);
      expect(await tribles("pile", "files", `${m}.pile`)).toContain("CONFLICT COPY");
    }

    // Friday: A tidies up (removes the copies, renames a directory); B's checkout follows.
    await tribles("pile", "rm", "a.pile", copyB, "--key", "a.key");
    await tribles("pile", "mv", "a.pile", "plans/2027", "plans/next", "--key", "a.key");
    const fri = await headOf("a");
    await b.waitFor(mergedTo(fri));
    await checkout("b");
    expect(existsSync(file(`wb/${copyB}`))).toBe(false);
    expect(existsSync(file("wb/plans/2027"))).toBe(false);
    expect(readdirSync(file("wb/plans/next")).filter((n) => n.startsWith("todo")).length).toBe(2);
    // Nothing changed in B's folder since: an empty commit is refused.
    const empty = await attempt(dir, "pile", "commit", "b.pile", "--from", "wb", "-m", "nothing", "--key", "b.key");
    expect(empty.code).toBe(1);
    expect(empty.err).toContain("nothing to commit");
  }, 120_000);
});
