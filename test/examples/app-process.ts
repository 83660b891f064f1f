/** Runs an example program as a child process and waits on the JSON lines it prints. */
import { join } from "node:path";
import type { Subprocess } from "bun";

/** The example programs: ours, or (TRIBLES_EXAMPLES) copies in a project that installed the packed package. */
export const EXAMPLES = process.env.TRIBLES_EXAMPLES ?? join(import.meta.dir, "../../examples");

export type Line = Record<string, unknown> & { event: string };

export interface AppProcess {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  lines: Line[];
  /** Resolves with the first line (seen or future) that matches; rejects after `ms`, showing what was seen. */
  waitFor(match: (line: Line) => boolean, ms?: number): Promise<Line>;
  /** Writes one command line to its stdin. */
  send(command: string): void;
  /** Closes stdin (the apps then stop by themselves) and waits for the exit code. */
  finish(): Promise<number>;
}

export function startExample(file: string, args: string[], cwd: string): AppProcess {
  const proc = Bun.spawn([process.execPath, join(EXAMPLES, file), ...args], { cwd, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
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
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as Line;
        lines.push(line);
        for (const w of [...waiters]) {
          if (!w.match(line)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  })();
  return {
    proc,
    lines,
    waitFor: (match, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const found = lines.find(match);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`${file}: nothing matched in ${ms} ms; saw:\n  ${lines.map((l) => JSON.stringify(l)).join("\n  ")}\nstderr: ${stderr}`)), ms);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      }),
    send(command) {
      proc.stdin.write(`${command}\n`);
      proc.stdin.flush();
    },
    async finish() {
      proc.stdin.end();
      return await proc.exited;
    },
  };
}

/** The address to dial a process at: its TCP listen address (with /p2p/PEER-ID). */
export function dialAddress(listening: Line): string {
  const addrs = listening.addrs as string[];
  const tcp = addrs.find((a) => a.includes("/tcp/"))!;
  return tcp.includes("/p2p/") ? tcp : `${tcp}/p2p/${listening.peerId}`;
}
