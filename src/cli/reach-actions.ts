/** `tribles pile net status` and `pile net doctor`: thin shells over net/status.ts and net/doctor.ts. */
import { existsSync } from "node:fs";
import { addressBookPath } from "../net/address-book.ts";
import { askControl, controlSocketPath, NoSyncRunningError } from "../net/control-socket.ts";
import { parseDialTarget } from "../net/dial-target.ts";
import { type DoctorReport, doctorWithoutSync } from "../net/doctor.ts";
import type { HeadSeen, NodeStatus } from "../net/status.ts";
import { openPile, signingKey } from "./common.ts";
import { CliError } from "./errors.ts";
import { capHandleOf, type TeamOptions } from "./team-context.ts";

function socketOf(path: string): string {
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

export interface DoctorOptions extends TeamOptions {
  key?: string;
  json?: boolean;
  directOnly?: boolean;
}

export async function runDoctor(path: string, peer: string | undefined, opts: DoctorOptions): Promise<number> {
  if (peer !== undefined) {
    try {
      parseDialTarget(String(peer));
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  const target = peer === undefined ? {} : { peer: String(peer) };
  let report: DoctorReport;
  try {
    report = (await askControl(socketOf(path), { op: "doctor", ...target })) as DoctorReport;
  } catch (err) {
    if (!(err instanceof NoSyncRunningError)) throw new CliError((err as Error).message);
    // No sync to ask: a node of our own runs the checks it can (reaching PEER, its verdict on us).
    const pile = openPile(path);
    try {
      const key = signingKey(opts, path);
      report = await doctorWithoutSync({ store: pile, key, capability: capHandleOf(opts), addressBook: addressBookPath(path), directOnly: opts.directOnly ?? false, ...target });
    } finally {
      pile.close();
    }
  }
  if (opts.json) console.log(JSON.stringify(report));
  else {
    const mark = { ok: "ok  ", fail: "FAIL", warn: "warn", skip: "skip" } as const;
    for (const c of report.checks) console.log(`${mark[c.status]} ${c.step}: ${c.detail}`);
    console.log(report.verdict.ok ? `verdict: ${report.verdict.message}` : `verdict: fails at ${report.verdict.message}${report.verdict.fix ? `\nfix: ${report.verdict.fix}` : ""}`);
  }
  return report.verdict.ok ? 0 : 1;
}
