/** `tribles pile net doctor`: a thin shell over net/doctor.ts. */
import { addressBookPath } from "../net/address-book.ts";
import { askControl, NoSyncRunningError } from "../net/control-socket.ts";
import { parseDialTarget } from "../net/dial-target.ts";
import { type DoctorReport, doctorWithoutSync } from "../net/doctor.ts";
import { openPile, signingKey } from "./common.ts";
import { CliError } from "./errors.ts";
import { socketOf } from "./status-action.ts";
import { capHandleOf, type TeamOptions } from "./team-context.ts";

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
