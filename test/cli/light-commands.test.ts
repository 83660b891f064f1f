/**
 * Commands that tests and scripts run often load no libp2p node: `pile net identity` derives the
 * PeerId from the key alone and `pile net status` only asks the running sync. Loading libp2p
 * costs about 0.2 s a call, and an import of host.ts slipped into their modules would bring it
 * back unnoticed.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { tempDir } from "../pile/helpers.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
const REFUSE = join(import.meta.dir, "fixtures/refuse-libp2p.ts");
const tmp = tempDir("tribles-light-");
afterAll(() => tmp.cleanup());

/** Runs `tribles …` with libp2p refused. */
async function light(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env: Record<string, string | undefined> = { ...process.env, TRIBLES_DEBUG: "" };
  delete env.TRIBLESPACE_KEY;
  const proc = Bun.spawn([process.execPath, "--preload", REFUSE, MAIN, ...args], { cwd: tmp.dir, stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

test("identity and status run without loading libp2p; a command that needs it cannot", async () => {
  expect((await light("pile", "create", "a.pile")).code).toBe(0);

  const created = await light("pile", "net", "identity", "a.pile", "--create", "--json");
  expect(created.err).toBe("");
  expect(created.code).toBe(0);
  const id = JSON.parse(created.out);
  expect(id.created).toBe(true);
  // The PeerId is libp2p's for that key.
  expect(id.peerId).toBe(peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(id.publicKey, "hex"))).toString());

  const status = await light("pile", "net", "status", "a.pile");
  expect(status.code).toBe(1);
  expect(status.err.trim()).toBe("error: no sync is running for a.pile; start one with `tribles pile net sync a.pile`");

  // The preload does refuse libp2p: a pull, which needs a node, fails on it.
  const pull = await light("pile", "net", "pull", "a.pile", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWAHoEkEqnKzM5PXFygh2movVBCSX3k8tDsT2cneU68Gyt");
  expect(pull.code).not.toBe(0);
  expect(pull.err).toContain("refused to load");
}, 20_000);
