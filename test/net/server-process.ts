/** Starts fixtures/serve.ts in a child process and talks to it over its stdin/stdout. */
import { join } from "node:path";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Subprocess } from "bun";
import type { HostileConfig } from "./fixtures/hostile-serve.ts";
import type { ServeConfig } from "./fixtures/serve.ts";

export interface ServerInfo {
  peerId: string;
  addrs: string[];
  root: string | null;
  blobs: number;
}

export interface ServerProcess {
  info: ServerInfo;
  /** The first listen address (with /p2p/ suffix) as a multiaddr. */
  addr: Multiaddr;
  /** Hashes named per op code by authorized requests so far. */
  stats(): Promise<Record<number, number>>;
  kill(): void;
  exited: Promise<number>;
}

const running = new Set<Subprocess>();

/** Kills every server still running (call from afterEach). */
export function killServers(): void {
  for (const proc of running) proc.kill("SIGKILL");
  running.clear();
}

export const QUIC = ["/ip4/127.0.0.1/udp/0/quic-v1"];
export const TCP = ["/ip4/127.0.0.1/tcp/0"];

export async function startServer(config: ServeConfig): Promise<ServerProcess> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/serve.ts"), JSON.stringify(config)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  const next = lines(proc.stdout);
  const first = await Promise.race([next(), proc.exited.then(async (code) => Promise.reject(new Error(`server exited ${code}: ${await new Response(proc.stderr).text()}`)))]);
  const info = JSON.parse(first) as ServerInfo;
  return {
    info,
    addr: multiaddr(info.addrs[0]!),
    async stats() {
      proc.stdin.write("stats\n");
      proc.stdin.flush();
      return (JSON.parse(await next()) as { requests: Record<number, number> }).requests;
    },
    kill: () => proc.kill("SIGKILL"),
    exited: proc.exited,
  };
}

export interface HostileProcess {
  peerId: string;
  addr: Multiaddr;
  /** Parents named in CHILDREN_MANY requests, and request frames, so far. */
  stats(): Promise<{ children: number; requests: number }>;
  kill(): void;
}

/** Starts fixtures/hostile-serve.ts (a lying or silent server) in a child process. */
export async function startHostileServer(config: HostileConfig): Promise<HostileProcess> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/hostile-serve.ts"), JSON.stringify(config)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  const next = lines(proc.stdout);
  const first = await Promise.race([next(), proc.exited.then(async (code) => Promise.reject(new Error(`hostile server exited ${code}: ${await new Response(proc.stderr).text()}`)))]);
  const info = JSON.parse(first) as { peerId: string; addrs: string[] };
  return {
    peerId: info.peerId,
    addr: multiaddr(info.addrs[0]!),
    async stats() {
      proc.stdin.write("stats\n");
      proc.stdin.flush();
      return JSON.parse(await next());
    },
    kill: () => proc.kill("SIGKILL"),
  };
}

/** Returns a function that resolves with each line of the stream in turn. */
function lines(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  void (async () => {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const waiter = waiters.shift();
        if (waiter) waiter(line);
        else queue.push(line);
      }
    }
  })();
  return () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve)));
}
