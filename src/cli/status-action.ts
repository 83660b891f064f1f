/**
 * `tribles pile net status`: asks the pile's running sync over its control socket. Apart from
 * `pile net doctor` so that it loads no libp2p module (it only reads what the sync answers).
 */
import { existsSync } from "node:fs";
import { askControl, controlSocketPath, NoSyncRunningError } from "../net/control-socket.ts";
import type { HeadSeen, NodeStatus } from "../net/status.ts";
import { CliError } from "./errors.ts";

/** The control socket of the sync running on the pile at `path`. */
export function socketOf(path: string): string {
  if (!existsSync(path)) throw new CliError(`${path}: no such pile`);
  return controlSocketPath(path);
}

export async function runStatus(path: string, opts: { json?: boolean }): Promise<number> {
  let status: NodeStatus;
  try {
    status = (await askControl(socketOf(path), { op: "status" })) as NodeStatus;
  } catch (err) {
    if (err instanceof NoSyncRunningError) throw new CliError(`no sync is running for ${path}; start one with \`tribles pile net sync ${path}\``);
    throw new CliError((err as Error).message);
  }
  if (opts.json) {
    console.log(JSON.stringify(status));
    return 0;
  }
  console.log(`sync of ${path} as ${status.peerId}${status.directOnly ? " (--direct-only)" : ""}`);
  for (const a of status.listen) console.log(`  listening on ${a}`);
  if (status.peers.length === 0) console.log("no peer connected");
  for (const p of status.peers) {
    const path = p.path === "relayed" ? `relayed via ${p.relay ?? "?"}` : "direct";
    const rtt = p.rttMs === null ? "no ping answer" : `rtt ${p.rttMs.toFixed(0)} ms`;
    console.log(`${p.peer}${p.member ? "" : " (not authenticated as a member)"}`);
    console.log(`  ${path}, ${p.transport} ${p.direction} ${p.remoteAddr}; ${rtt}; ${bytes(p.bytesIn)} in, ${bytes(p.bytesOut)} out`);
    console.log(`  last head received: ${head(p.lastHeadReceived)}; sent: ${head(p.lastHeadSent)}`);
  }
  return 0;
}

const bytes = (n: number) => (n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const head = (h: HeadSeen | null) => (h ? `${h.head.slice(0, 12)} (${h.via}, ${Math.round((Date.now() - h.at) / 1000)} s ago)` : "none");
