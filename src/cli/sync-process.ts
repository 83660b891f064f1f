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
  const events: SyncEvent[] = [];
  const waiters: { match: (e: SyncEvent) => boolean; resolve: (e: SyncEvent) => void }[] = [];
  let stderr = "";
  void (async () => {
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
        const event = JSON.parse(line) as SyncEvent;
        events.push(event);
        for (const w of [...waiters]) {
          if (!w.match(event)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    }
  })();
  const waitFor = (match: (e: SyncEvent) => boolean, ms = 20_000) =>
    new Promise<SyncEvent>((resolve, reject) => {
      const found = events.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        const seen = events.map((e) => JSON.stringify(e)).join("\n  ");
        reject(new Error(`${name}: timed out after ${ms} ms waiting for an event; saw:\n  ${seen}${stderr ? `\nstderr: ${stderr}` : ""}`));
      }, ms);
      waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  };
  return { proc, events, waitFor, stop };
}
