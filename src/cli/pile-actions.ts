/** Actions of `tribles pile …` (piles, blobs, branches); loaded only when one of them runs. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { toHex } from "../core/bytes.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import { diagnosePile } from "../pile/diagnose.ts";
import { repairTail } from "../pile/repair.ts";
import { type BranchInfo, Repository } from "../repo/repository.ts";
import { output, parseHash, signingKey, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { describeCapability } from "./team-actions.ts";
import { capHandleOf, givenTeamRoot, type TeamOptions } from "./team-context.ts";

function describeBranch(b: BranchInfo) {
  return {
    id: toHex(b.id),
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
  const r = diagnosePile(path, (checked, total) => {
    if (tty && total > 0) process.stderr.write(`\rchecked ${(checked / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB (${Math.floor((100 * checked) / total)}%)   `);
  });
  if (tty) process.stderr.write("\r\x1b[K");
  output(opts.json, r, () =>
    [
      `${r.path}: ${r.fileBytes} bytes, ${r.validBytes} valid`,
      `blobs: ${r.blobRecords} records, ${r.distinctBlobs} distinct, ${r.blobBytes} payload bytes`,
      `branches: ${r.branches.length} live (${r.branchRecords} updates, ${r.tombstones} deletions)`,
      ...r.badBlobs.map((b) => `BAD blob at offset ${b.offset}: payload does not hash to ${b.hash}`),
      ...(r.corruption ? [`${r.corruption.tornTail ? "torn tail" : "CORRUPT"} at offset ${r.corruption.offset}: ${r.corruption.reason} (${corruptionAdvice(r.corruption, r.path)})`] : []),
      r.ok ? "ok" : "problems found",
    ].join("\n"),
  );
  return r.ok ? 0 : 1;
}

/** What a user can do about the first bad record diagnose found. */
function corruptionAdvice(c: { offset: number; tornTail: boolean; nothingAfter: boolean }, path: string): string {
  if (c.tornTail) return "an interrupted write: the next command that opens the pile truncates it";
  if (!c.nothingAfter) {
    return `valid-looking records follow it: real records after damage, or the payload of a large blob a crash cut short. \`tribles pile repair --force ${path}\` saves everything from this offset to a file beside the pile and cuts the pile there`;
  }
  if (c.offset === 0) return "this file is not a pile";
  return `nothing valid follows it: \`tribles pile repair ${path}\` saves these bytes aside and cuts them off`;
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
 * Branches with their ids (a tracking branch also shows the remote branch id it mirrors). With a
 * capability and team root (--cap/--team-root or their variables), each branch says what the
 * capability grants on it: capabilities name branch ids, so of two branches that share a name
 * (created independently by two members) this shows which one the capability covers.
 */
export async function pileBranchList(path: string, opts: TeamOptions & { json?: boolean }) {
  const capHandle = capHandleOf(opts);
  const root = givenTeamRoot(opts);
  const branches = await withPile(path, (pile) => {
    const cap = capHandle && root ? describeCapability(pile, capHandle, root, path) : undefined;
    const valid = cap?.status.startsWith("valid") ? cap : undefined;
    if (cap && !valid) console.error(`note: capability ${toHex(capHandle!)} does not verify (${cap.status}): grants not shown`);
    return new Repository(pile).listBranches().map((b) => {
      const view = describeBranch(b);
      if (!valid) return view;
      // What a peer checks is the id the branch has across the team: the remote's, for a tracking branch.
      const teamId = b.meta.tracking ? toHex(b.meta.tracking.remoteBranch) : view.id;
      return { ...view, grants: valid.branches.length === 0 || valid.branches.includes(teamId) ? valid.perms : [] };
    });
  });
  output(opts.json, branches, () =>
    branches
      .map((b) => {
        const name = b.tracking ? `${b.name} (tracking ${b.remotePeer?.slice(0, 12)}…'s ${b.remoteBranch})` : b.name;
        const grants = "grants" in b ? `  cap: ${b.grants.length ? b.grants.join(",") : "no access"}` : "";
        return `${b.id}  ${name}  head ${b.head ?? "(empty)"}  updated ${b.updatedAt ?? "?"}${grants}`;
      })
      .join("\n"),
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
    const byId = /^[0-9a-fA-F]{32}$/.test(name) ? repo.listBranches().find((b) => toHex(b.id) === name.toLowerCase()) : undefined;
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

