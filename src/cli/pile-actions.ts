/** Actions of `tribles pile …` (piles, blobs, branches); loaded only when one of them runs. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { toHex } from "../core/bytes.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import { type DiagnosedBranch, type DiagnoseReport, diagnosePile } from "../pile/diagnose.ts";
import { describeMetaBlob } from "../repo/branch-meta.ts";
import { repairTail } from "../pile/repair.ts";
import { type BranchInfo, Repository } from "../repo/repository.ts";
import { output, parseHash, signingKey, withPile } from "./common.ts";
import { describeUnreadable, unreadableMark } from "./unreadable-branches.ts";
import { CliError } from "./errors.ts";
import { describeCapability } from "./team-actions.ts";
import { capHandleOf, givenTeamRoot, type TeamOptions } from "./team-context.ts";

function describeBranch(b: BranchInfo) {
  return {
    id: toHex(b.id),
    // A head whose metadata carries no signature (the reference's branch_unsigned); tracking
    // metadata is always unsigned (written locally), so it is not marked.
    ...(b.meta.head && !b.tracking && !b.meta.signedBy ? { headUnsigned: true } : {}),
    name: b.name,
    tracking: b.tracking,
    head: b.meta.head ? toHex(b.meta.head) : null,
    meta: toHex(b.metaHandle),
    updatedAt: b.meta.updatedAt ? new Date(unixMsFromTaiNs(b.meta.updatedAt.lower)).toISOString() : null,
    ...(b.meta.tracking ? { remotePeer: toHex(b.meta.tracking.remotePeer), remoteBranch: toHex(b.meta.tracking.remoteBranch) } : {}),
  };
}

async function readInput(file: string | undefined): Promise<Uint8Array> {
  // Waiting silently for a terminal to type a blob is never what was meant.
  if (file === undefined && process.stdin.isTTY) throw new CliError("give a file to store, or - to read standard input");
  if (file === undefined || file === "-") return new Uint8Array(await Bun.stdin.arrayBuffer());
  if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  return new Uint8Array(readFileSync(file));
}

export async function pileCreate(path: string) {
  if (existsSync(path)) throw new CliError(`${path} already exists`);
  await withPile(path, () => undefined, { create: true });
  console.log(`created ${path}`);
}

export function pileDiagnose(path: string, opts: { json?: boolean }) {
  if (!existsSync(path)) throw new CliError(`${path}: no such pile`);
  // A large pile takes seconds to hash: show how far the check is on a terminal.
  const tty = process.stderr.isTTY && !opts.json;
  const r = diagnosePile(path, {
    onProgress: (checked, total) => {
      if (tty && total > 0) process.stderr.write(`\rchecked ${(checked / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB (${Math.floor((100 * checked) / total)}%)   `);
    },
    inspectMeta: describeMetaBlob,
  });
  if (tty) process.stderr.write("\r\x1b[K");
  output(opts.json, r, () =>
    [
      `${r.path}: ${r.fileBytes} bytes, ${r.validBytes} valid`,
      `blobs: ${r.blobRecords} records, ${r.distinctBlobs} distinct, ${r.blobBytes} payload bytes`,
      `branches: ${r.branches.length} live (${r.branchRecords} updates, ${r.tombstones} deletions)`,
      ...r.badBlobs.map((b) => `BAD blob at offset ${b.offset}: payload does not hash to ${b.hash}`),
      ...r.branches.filter((b) => b.metadata !== "ok").map((b) => `branch ${b.id}: ${metadataProblem(b, path)}`),
      ...(r.corruption ? [`${r.corruption.tornTail ? "torn tail" : "CORRUPT"} at offset ${r.corruption.offset}: ${r.corruption.reason} (${r.corruption.advice})`] : []),
      ...(r.referenceRestore ? [referenceRestoreNote(r.referenceRestore)] : []),
      r.ok ? "ok" : "problems found",
    ].join("\n"),
  );
  return r.ok ? 0 : 1;
}

/** A live branch whose metadata blob diagnose found missing, damaged or unreadable. */
function metadataProblem(b: DiagnosedBranch, path: string): string {
  const what = {
    ok: "",
    missing: `metadata missing (blob ${b.head} is not in this pile)`,
    damaged: `metadata unreadable: blob ${b.head} fails its hash check`,
    unreadable: `metadata unreadable: ${b.problem}`,
  }[b.metadata];
  return `${what}; \`tribles pile branch delete ${path} ${b.id}\` removes the branch`;
}

/** What the reference's restore would throw away, for a user who also runs it on this pile. */
function referenceRestoreNote(r: NonNullable<DiagnoseReport["referenceRestore"]>): string {
  const { blobs, branches, tombstones } = r.discardsRecords;
  const records = `${blobs} blob record${blobs === 1 ? "" : "s"}, ${branches} branch record${branches === 1 ? "" : "s"} and ${tombstones} tombstone${tombstones === 1 ? "" : "s"}`;
  const lost = r.branchesLost.length ? `; ${r.branchesLost.length} branch${r.branchesLost.length === 1 ? "" : "es"} would lose ${r.branchesLost.length === 1 ? "its" : "their"} newest state: ${r.branchesLost.join(", ")}` : "";
  return `note: the reference implementation's restore (Pile::restore) would truncate this file to ${r.truncatesTo} bytes, throwing away the ${r.discardsBytes} bytes from that offset on: the bad record and, after it, ${records}${lost}. tribles leaves the file untouched`;
}

export function pileRepair(path: string, opts: { force?: boolean; json?: boolean }) {
  if (!existsSync(path)) throw new CliError(`${path}: no such pile`);
  let repair: ReturnType<typeof repairTail>;
  try {
    repair = repairTail(path, { force: opts.force === true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  output(opts.json, { path, repaired: repair }, () =>
    repair ? `saved ${repair.bytes} damaged bytes from offset ${repair.offset} to ${repair.savedTo}; ${path} now ends at ${repair.offset}` : `${path}: nothing to repair`,
  );
}

export async function pileBlobPut(path: string, file: string | undefined, opts: { json?: boolean }) {
  const bytes = await readInput(file);
  const h = await withPile(path, (pile) => pile.put(bytes));
  output(opts.json, { hash: toHex(h), bytes: bytes.length }, () => toHex(h));
}

export async function pileBlobGet(path: string, hex: string, opts: { output?: string }) {
  const h = parseHash(hex);
  const bytes = await withPile(path, (pile) => pile.reader().get(h)?.slice());
  if (!bytes) throw new CliError(`blob ${toHex(h)} is not in ${path}`);
  if (opts.output) writeFileSync(opts.output, bytes);
  else await Bun.write(Bun.stdout, bytes);
}

export async function pileBlobList(path: string, opts: { json?: boolean }) {
  const hashes = await withPile(path, (pile) => [...pile.reader().list()].map(toHex));
  output(opts.json, hashes, () => hashes.join("\n"));
}

/**
 * Every live branch with its id (a tracking branch also shows the remote branch id it mirrors);
 * those whose metadata blob is missing or unreadable are listed too, marked (`metadata missing` /
 * `metadata unreadable: …`), with `name: null`: only their id names them. With a capability and
 * team root (--cap/--team-root or their variables), each branch says what the capability grants
 * on it: capabilities name branch ids, so of two branches that share a name (created
 * independently by two members) this shows which one the capability covers.
 */
export async function pileBranchList(path: string, opts: TeamOptions & { json?: boolean }) {
  const capHandle = capHandleOf(opts);
  const root = givenTeamRoot(opts);
  const { branches, unreadable } = await withPile(path, (pile) => {
    const cap = capHandle && root ? describeCapability(pile, capHandle, root, path) : undefined;
    const valid = cap?.status.startsWith("valid") ? cap : undefined;
    if (cap && !valid) console.error(`note: capability ${toHex(capHandle!)} does not verify (${cap.status}): grants not shown`);
    const grantsOn = (b: BranchInfo): { grants?: string[] } => {
      if (!valid) return {};
      // What a peer checks is the id the branch has across the team: the remote's, for a tracking branch.
      const teamId = toHex(b.meta.tracking ? b.meta.tracking.remoteBranch : b.id);
      return { grants: valid.branches.length === 0 || valid.branches.includes(teamId) ? valid.perms : [] };
    };
    const overview = new Repository(pile).branchOverview();
    return { branches: overview.branches.map((b) => ({ ...describeBranch(b), ...grantsOn(b) })), unreadable: overview.unreadable.map(describeUnreadable) };
  });
  const all = [...branches.map((b) => ({ ...b, metadata: "ok" as const })), ...unreadable.map((b) => ({ id: b.id, name: null, meta: b.meta, metadata: b.problem, reason: b.reason }))];
  output(opts.json, all, () =>
    [
      ...branches.map((b) => {
        const name = b.tracking ? `${b.name} (tracking ${b.remotePeer?.slice(0, 12)}…'s ${b.remoteBranch})` : b.name;
        const grants = b.grants ? `  cap: ${b.grants.length ? b.grants.join(",") : "no access"}` : "";
        return `${b.id}  ${name}  head ${b.head ?? "(empty)"}${b.headUnsigned ? " (unsigned)" : ""}  updated ${b.updatedAt ?? "?"}${grants}`;
      }),
      ...unreadable.map((b) => `${b.id}  (metadata ${unreadableMark(b)})  meta ${b.meta}`),
    ].join("\n"),
  );
}

export async function pileBranchCreate(path: string, name: string) {
  const b = await withPile(path, (pile) => describeBranch(new Repository(pile).createBranch(name)));
  console.log(`created branch ${name} (${b.id})`);
}

/**
 * Deletes a local branch by name, or any branch by its id (32 hex characters): the way to drop a
 * tracking branch left behind, e.g. when a peer recreated its pile and its branches got new ids.
 */
export async function pileBranchDelete(path: string, name: string) {
  await withPile(path, (pile) => {
    const repo = new Repository(pile);
    // By id: readable branches, and those whose metadata is missing or unreadable.
    const overview = /^[0-9a-fA-F]{32}$/.test(name) ? repo.branchOverview() : undefined;
    const byId = overview && [...overview.branches, ...overview.unreadable].find((b) => toHex(b.id) === name.toLowerCase());
    if (!byId) return repo.deleteBranch(name);
    if (!pile.update(byId.id, byId.metaHandle, null).ok) throw new CliError(`branch ${name} changed while deleting it; try again`);
  });
  console.log(`deleted branch ${name}`);
}

export async function pileBranchRename(path: string, from: string, to: string, opts: { key?: string }) {
  const key = signingKey(opts, path);
  await withPile(path, (pile) => new Repository(pile, key).renameBranch(from, to));
  console.log(`renamed ${from} to ${to}`);
}

