/** Runs an example program as a child process and waits on the JSON lines it prints. */
import { join } from "node:path";
import type { Subprocess } from "bun";
import { followJsonLines } from "../../src/cli/sync-process.ts";

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
  const { items: lines, waitFor, stderr } = followJsonLines<Line>(proc, file);
  return {
    proc,
    lines,
    waitFor,
    send(command) {
      proc.stdin.write(`${command}\n`);
      proc.stdin.flush();
    },
    async finish() {
      proc.stdin.end();
      const code = await proc.exited;
      if (code !== 0) console.error(`${file} exited ${code}:\n${await stderr()}`);
      return code;
    },
  };
}

/** The address to dial a process at: its TCP listen address (with /p2p/PEER-ID). */
export function dialAddress(listening: Line): string {
  const addrs = listening.addrs as string[];
  const tcp = addrs.find((a) => a.includes("/tcp/"))!;
  return tcp.includes("/p2p/") ? tcp : `${tcp}/p2p/${listening.peerId}`;
}
