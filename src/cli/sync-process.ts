/**
 * Runs `tribles pile net sync … --json` as a child process and lets the caller wait for its JSON
 * events. Used by the demo and by the end-to-end tests.
 */
import type { Subprocess } from "bun";

export type SyncEvent = Record<string, unknown> & { event: string; time: number };

export interface SyncProcess {
  proc: Subprocess;
  events: SyncEvent[];
  /** Resolves with the first event (seen or future) that matches; rejects after `ms`. */
  waitFor(match: (e: SyncEvent) => boolean, ms?: number): Promise<SyncEvent>;
  stop(): Promise<void>;
}

export function startSyncProcess(cliCmd: string[], args: string[], cwd: string, name = "sync"): SyncProcess {
  const proc = Bun.spawn([...cliCmd, "pile", "net", "sync", ...args, "--json"], { cwd, stdout: "pipe", stderr: "pipe" });
  const { items: events, waitFor } = followJsonLines<SyncEvent>(proc, name);
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  };
  return { proc, events, waitFor, stop };
}

/**
 * Collects the JSON objects a child prints one per line (other lines are skipped) and lets the
 * caller wait for one: `waitFor` resolves with the first (seen or future) that matches, and
 * rejects after `ms` showing what was seen and the child's stderr.
 */
export function followJsonLines<T>(
  proc: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> },
  name: string,
): { items: T[]; waitFor: (match: (item: T) => boolean, ms?: number) => Promise<T>; stderr: () => Promise<string> } {
  const items: T[] = [];
  const waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];
  let stderr = "";
  const stderrEnded = (async () => {
    for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of proc.stdout) {
      buffered += decoder.decode(chunk);
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const item = JSON.parse(line) as T;
        items.push(item);
        for (const w of [...waiters]) {
          if (!w.match(item)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(item);
        }
      }
    }
  })();
  const waitFor = (match: (item: T) => boolean, ms = 20_000) =>
    new Promise<T>((resolve, reject) => {
      const found = items.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        const seen = items.map((e) => JSON.stringify(e)).join("\n  ");
        reject(new Error(`${name}: timed out after ${ms} ms waiting for an event; saw:\n  ${seen}${stderr ? `\nstderr: ${stderr}` : ""}`));
      }, ms);
      waiters.push({
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      });
    });
  /** All of the child's stderr, once it closed it (it exited). */
  const allStderr = () => stderrEnded.then(() => stderr);
  return { items, waitFor, stderr: allStderr };
}
