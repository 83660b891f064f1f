/**
 * `Pile.flush` fsyncs what its handle appended, once, and nothing when the handle appended
 * nothing since (a sync flushes after every round, also rounds that only saw another process's
 * appends); `flushAsync` does the same on a worker thread, so a sync's event loop is not held up.
 * Counted with strace on a child process: the fsync calls between its step markers, and the
 * thread that made each.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers.ts";

test.skipIf(!Bun.which("strace"))("flush fsyncs a handle's appends once, and a clean handle not at all; flushAsync off the main thread", () => {
  const tmp = tempDir();
  try {
    const trace = tmp.path("strace.txt");
    const child = Bun.spawnSync(["strace", "-f", "-e", "trace=fsync,fdatasync,write", "-o", trace, process.execPath, join(import.meta.dir, "flush-child.ts"), tmp.path("a.pile")], { timeout: 60_000 });
    expect(child.exitCode).toBe(0);
    // fsync calls counted per step (the step named by the last marker written before them).
    // With -f each line starts with the thread id; the markers come from the main thread.
    const perStep: Record<string, number> = {};
    const offMainThread: Record<string, number> = {};
    let step = "start";
    let mainThread = "";
    for (const line of readFileSync(trace, "utf8").split("\n")) {
      const thread = line.split(/\s+/)[0]!;
      const marker = /write\(2, "step ([^"\\]+)/.exec(line);
      if (marker) {
        step = marker[1]!;
        mainThread = thread;
      } else if (/\bf(data)?sync\(/.test(line)) {
        perStep[step] = (perStep[step] ?? 0) + 1;
        if (thread !== mainThread) offMainThread[step] = (offMainThread[step] ?? 0) + 1;
      }
    }
    expect(perStep).toEqual({ "flush writer": 1, "flushAsync writer": 1 });
    expect(offMainThread).toEqual({ "flushAsync writer": 1 });
  } finally {
    tmp.cleanup();
  }
}, 60_000);
