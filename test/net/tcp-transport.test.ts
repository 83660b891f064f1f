/**
 * Dials aborted while the socket connects end quietly: rejected, with no uncaught AbortError from
 * the socket (src/net/tcp-transport.ts). Run in a child process, where an uncaught error shows.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

async function abortedDials(which: "ours" | "libp2p") {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/tcp-abort.ts"), which], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout: stdout.trim(), stderr, code };
}

test("50 dials aborted mid-connect are each rejected, and no socket error goes uncaught", async () => {
  const ours = await abortedDials("ours");
  expect(ours.stderr).not.toContain("AbortError");
  expect(ours.stdout).toBe("done 50");
  expect(ours.code).toBe(0);
}, 30_000);

test("the published transport does leak them (what the wrapper is for; when this fails, the wrapper can go)", async () => {
  const theirs = await abortedDials("libp2p");
  expect(theirs.stderr).toContain("AbortError");
}, 30_000);
