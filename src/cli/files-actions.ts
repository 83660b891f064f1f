/**
 * Actions of `tribles pile commit | rm | mv | files | checkout | status`: a branch's file tree
 * (repo/file-tree.ts) committed from paths or a working folder, listed, and written into a folder
 * that remembers what it checked out (repo/folder.ts). Paths come from peers, so they are checked
 * before they become paths on disk, and every check of a checkout runs before its first write.
 */
import { type ProgressLine, progressLine } from "./progress.ts";
import { existsSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { toHex } from "../core/bytes.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import type { Pile } from "../pile/pile.ts";
import { RepoError } from "../repo/errors.ts";
import { commitFileChanges, type FileChange } from "../repo/file-commit.ts";
import { type FileTree, isConflictCopy, type MergeConflict, type TreeEntry, treeAt } from "../repo/file-tree.ts";
import { applyCheckout, type CheckoutPlan, folderChanges, folderStatus, planCheckout, RECORD_FILE, readRecord, walkFolder, writeRecord } from "../repo/folder.ts";
import { normalizeLocalPath, pathProblem } from "../repo/paths.ts";
import { adoptTrackedBranch } from "../repo/remote-merge.ts";
import { type BranchInfo, Repository } from "../repo/repository.ts";
import { output, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { checkOwnCapability } from "./own-capability.ts";
import { cliRepoCall, type KeyOptions, repoKey, resolveBranch } from "./repo-actions.ts";
import { capHandleOf, givenTeamRoot, type TeamOptions } from "./team-context.ts";

const EMPTY_TREE: FileTree = { files: [], conflicts: [], unsafe: new Map(), collisions: [], unreadableCommits: [], unreadableNames: 0 };

// ── commit, rm, mv ─────────────────────────────────────────────────────────────────────────────

type CommitOpts = KeyOptions & TeamOptions & { branch?: unknown; message?: unknown; from?: unknown; json?: boolean };

/**
 * A commit peers will refuse is still a commit here; say so now rather than leave it to silence
 * (with a team root and a capability given: read-only, revoked, expired, not this key's, …).
 */
function warnIfPeersWillRefuse(pile: Pile, publicKey: Uint8Array, opts: CommitOpts): void {
  const team = givenTeamRoot(opts);
  const cap = capHandleOf(opts);
  if (!team || !cap) return;
  const own = checkOwnCapability(pile.reader(), team, publicKey, cap);
  for (const message of own.warnings) console.error(`warning: ${message}`);
  if (!own.judged) console.error("note: your capability's chain is not in this pile yet (a first sync fetches it), so whether peers accept this commit cannot be told here");
}

export async function pileCommit(path: string, inputs: string[], opts: CommitOpts) {
  const message = requireMessage(opts);
  if (opts.from !== undefined) {
    if (inputs.length) throw new CliError("give either files to commit or --from DIR, not both");
    return commitFolder(path, opts, message);
  }
  if (!inputs.length) throw new CliError("nothing to commit: name files or directories, or --from DIR (a folder checked out with `pile checkout --out`)");
  const changes = inputs.flatMap(readInput);
  await commitAndReport(path, String(opts.branch ?? "main"), changes, message, opts);
}

export async function pileRm(path: string, paths: string[], opts: CommitOpts) {
  if (!paths.length) throw new CliError("rm needs the paths to remove (files, or directories: everything under them)");
  const message = opts.message === undefined ? `remove ${paths.join(", ")}` : requireMessage(opts);
  await commitAndReport(path, String(opts.branch ?? "main"), paths.map((p) => ({ kind: "remove", path: recordedPath(p) })), message, opts);
}

export async function pileMv(path: string, from: string, to: string, opts: CommitOpts) {
  const message = opts.message === undefined ? `move ${from} to ${to}` : requireMessage(opts);
  await commitAndReport(path, String(opts.branch ?? "main"), [{ kind: "move", from: recordedPath(from), to: recordedPath(to) }], message, opts);
}

async function commitAndReport(path: string, branch: string, changes: FileChange[], message: string, opts: CommitOpts) {
  const key = repoKey(opts, path);
  const result = await withPile(path, (pile) => {
    const repo = new Repository(pile, key);
    adoptTracked(repo, branch, path);
    const progress = commitProgress(changes, opts.json);
    const committed = withProgress(progress, () => repoCall(() => commitFileChanges(repo, branch, changes, message, { onBytes: (n) => progress.add(n) })));
    warnIfPeersWillRefuse(pile, key.publicKey, opts);
    return committed;
  });
  output(opts.json, { commit: toHex(result.commit), branch, added: result.added, removed: result.removed }, () =>
    [`committed ${short(result.commit)} to ${branch}: ${describeCounts(result.added.length, result.removed.length)}`, ...result.added.map((p) => `  + ${shown(p)}`), ...result.removed.map((p) => `  - ${shown(p)}`)].join("\n"),
  );
}

/** `commit --from DIR`: the folder's local edits on top of the branch now (see repo/folder.ts), then the folder brought up to date. */
async function commitFolder(path: string, opts: CommitOpts, message: string) {
  if (opts.from === true) throw new CliError("--from needs a directory");
  const dir = resolve(String(opts.from));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`${dir}: not a directory`);
  const record = readRecordOrFail(dir);
  const branch = String(opts.branch ?? record?.branch ?? "main");
  const key = repoKey(opts, path);
  const result = await withPile(path, (pile) => {
    const repo = new Repository(pile, key);
    adoptTracked(repo, branch, path);
    const tree = currentTree(repo, branch);
    // A folder checked out from another branch has no base on this one: its files count as new here.
    const base = record && record.branch === branch ? record : null;
    const planned = folderChanges(dir, tree, base, { createdAt: repo.now(), author: key.publicKey });
    if (!planned.changes.length) throw new CliError(`nothing to commit: ${dir} has no changes against ${branch} (see \`tribles pile status ${dir}\`)`);
    const progress = commitProgress(planned.changes, opts.json);
    const commit = withProgress(progress, () => repoCall(() => commitFileChanges(repo, branch, planned.changes, message, { onBytes: (n) => progress.add(n) })));
    warnIfPeersWillRefuse(pile, key.publicKey, opts);
    // The folder's files now match the bases below; checking out the new head updates the rest.
    const rec = { pile: resolve(path), branch, commit: base?.commit ?? null, files: planned.bases };
    writeRecord(dir, rec);
    const plan = checkoutPlan(repo, pile, dir, branch, rec, {});
    if (!plan.problems.length) checkoutWithProgress(dir, plan.plan, pile, opts.json);
    return { commit, planned, plan };
  });
  const { commit, planned, plan } = result;
  output(opts.json, { commit: toHex(commit.commit), branch, added: commit.added, removed: commit.removed, conflicts: planned.conflicts, keptOnBranch: planned.keptOnBranch, checkout: checkoutJson(plan.plan) }, () => {
    const lines = [`committed ${short(commit.commit)} to ${branch} from ${dir}: ${describeCounts(commit.added.length, commit.removed.length)}`];
    for (const p of commit.added) lines.push(`  + ${shown(p)}`);
    for (const p of commit.removed) lines.push(`  - ${shown(p)}`);
    for (const c of planned.conflicts) lines.push(`CONFLICT ${shown(c.path)}: changed on ${branch} since your checkout; your version is committed as ${shown(c.copy)}, the branch's is now at ${shown(c.path)}`);
    for (const p of planned.keptOnBranch) lines.push(`not deleted ${shown(p)}: changed on ${branch} since your checkout (the change is written back)`);
    for (const line of checkoutLines(dir, plan.plan)) lines.push(line);
    return lines.join("\n");
  });
  reportSkipped(planned.skipped);
  if (plan.problems.length) failCheckout(plan.problems, opts.json, "the commit was made, but the folder was not updated");
}

/** A first commit to a branch so far only tracked (after a pull) goes on the team's branch (repo/remote-merge.ts). */
function adoptTracked(repo: Repository, branch: string, path: string): void {
  const adopted = cliRepoCall(path, () => adoptTrackedBranch(repo, branch));
  if (adopted) console.error(`note: made local branch ${branch} from its tracking branch (branch id ${toHex(adopted.id)}, the team's)`);
}

function requireMessage(opts: { message?: unknown }): string {
  if (opts.message === undefined || opts.message === true || String(opts.message).trim() === "") throw new CliError("a commit needs a message: -m MSG");
  return String(opts.message);
}

/** A file or directory on the command line, as puts of paths relative to the current directory. */
function readInput(input: string): FileChange[] {
  if (!existsSync(input)) throw new CliError(`${input}: no such file or directory`);
  const rel = recordedPath(input);
  const st = statSync(input);
  if (st.isFile()) return [{ kind: "putFile", path: rel, file: resolve(input) }];
  if (!st.isDirectory()) throw new CliError(`${input}: not a regular file or directory`);
  const walked = walkFolder(input);
  reportSkipped(walked.skipped);
  const prefix = rel === "" ? "" : `${rel}/`;
  return [...walked.files].map(([p, abs]) => ({ kind: "putFile", path: prefix + p, file: abs }));
}

/** A command-line path as recorded: relative to the current directory, '/'-separated; outside it is refused. */
function recordedPath(input: string): string {
  const rel = relative(process.cwd(), resolve(input));
  if (rel.startsWith("..") || resolve(input) === resolve("/") || /^[A-Za-z]:/.test(rel)) throw new CliError(`${input}: outside the current directory; run the command from a directory that holds it (paths are recorded relative to it)`);
  const path = normalizeLocalPath(rel);
  const problem = path === "" ? null : pathProblem(path);
  if (problem) throw new CliError(`${input}: cannot be recorded: ${problem}`);
  return path;
}

function repoCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RepoError) throw new CliError(err.message);
    throw err;
  }
}

// ── files, status ──────────────────────────────────────────────────────────────────────────────

interface FileSummary {
  path: string;
  /** The same as `path` (the field's name before files had directories). */
  name: string;
  size: number;
  content: string;
  commit: string;
  time: string | null;
  conflictCopy: boolean;
  unsafe?: string;
}

export async function pileFiles(path: string, opts: { branch: unknown; json?: boolean }) {
  const { branch, tree } = await withPile(path, (pile) => branchTree(new Repository(pile), String(opts.branch), path));
  const files = tree.files.map((f) => summarize(f, tree));
  output(opts.json, { branch, files, conflicts: tree.conflicts.map(conflictJson), collisions: tree.collisions, unreadableCommits: tree.unreadableCommits.map(toHex), unreadableNames: tree.unreadableNames }, () => {
    if (files.length === 0) return `no files on ${branch}`;
    const width = files.reduce((w, f) => Math.max(w, shown(f.path).length), 0);
    const lines = files.map((f) => {
      const flag = f.conflictCopy ? "  CONFLICT COPY" : f.unsafe ? `  UNSAFE PATH (${f.unsafe}; checkout refuses it)` : "";
      return `${shown(f.path).padEnd(width)}  ${formatSize(f.size).padStart(10)}  ${f.time ?? "(no time)"}  ${f.content.slice(0, 16)}${flag}`;
    });
    const copies = files.filter((f) => f.conflictCopy).length;
    if (copies) lines.push(`${copies} conflict cop${copies === 1 ? "y" : "ies"}: both sides changed a file; compare each with the file it is named after, keep what you want, and \`tribles pile rm\` the copy`);
    for (const g of tree.collisions) lines.push(`COLLISION ${g.map(shown).join(" / ")}: one file on a case-insensitive file system (or a file and a directory)`);
    return lines.join("\n");
  });
  warnUnreadable(tree);
}

export async function pileStatus(dir: string, opts: { pile?: unknown; branch?: unknown; json?: boolean }) {
  const folder = resolve(dir);
  const record = readRecordOrFail(folder);
  const pilePath = opts.pile !== undefined && opts.pile !== true ? String(opts.pile) : record?.pile;
  if (!pilePath) throw new CliError(`${folder} was not checked out with \`tribles pile checkout PILE --out ${dir}\` (no ${RECORD_FILE}); pass --pile PILE`);
  const branch = String(opts.branch ?? record?.branch ?? "main");
  const { tree, head } = await withPile(pilePath, (pile) => {
    const repo = new Repository(pile);
    const b = resolveBranch(repo, branch, pilePath);
    return { tree: b.meta.head ? treeAt(repo.store.reader(), b.meta.head) : EMPTY_TREE, head: b.meta.head ?? null };
  });
  const status = folderStatus(folder, tree, record && record.branch === branch ? record : null);
  const conflicts = status.paths.filter((p) => p.local && p.branch);
  const copies = tree.files.filter((f) => isConflictCopy(f.path)).map((f) => f.path);
  const behind = !!head && (!record?.commit || toHex(record.commit) !== toHex(head));
  output(opts.json, { dir: folder, pile: pilePath, branch, head: head ? toHex(head) : null, checkedOut: record?.commit ? toHex(record.commit) : null, behind, paths: status.paths, conflicts: conflicts.map((c) => c.path), conflictCopies: copies }, () => {
    const lines = [`${folder}: ${branch} of ${pilePath}, checked out at ${record?.commit ? short(record.commit) : "(never)"}${head ? `, branch now at ${short(head)}` : ""}`];
    for (const p of status.paths) {
      const both = p.local && p.branch;
      const here = p.local ? `${p.local} here` : "";
      const there = p.branch ? `${p.branch} on ${branch}` : "";
      lines.push(`${both ? "CONFLICT " : ""}${shown(p.path)}: ${[here, there].filter(Boolean).join(", ")}`);
    }
    for (const c of copies) lines.push(`conflict copy ${shown(c)} on ${branch}`);
    if (!status.paths.length && !copies.length) lines.push("no changes here or on the branch since checkout");
    else lines.push(`(\`tribles pile commit ${pilePath} --from ${dir} -m MSG\` commits the changes here; \`tribles pile checkout ${pilePath} --out ${dir}\` brings the branch's)`);
    return lines.join("\n");
  });
  reportSkipped(status.skipped);
}

// ── checkout ───────────────────────────────────────────────────────────────────────────────────

export async function pileCheckout(path: string, names: string[], opts: { branch: unknown; out?: unknown; force?: boolean; json?: boolean }) {
  if (opts.out === true) throw new CliError("--out needs a directory");
  const outDir = resolve(opts.out === undefined ? "." : String(opts.out));
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new CliError(`${outDir}: not a directory`);
  const record = readRecordOrFail(outDir);
  const only = names.length ? names.map(normalizeLocalPath) : undefined;
  const result = await withPile(path, (pile) => {
    const repo = new Repository(pile);
    const planned = checkoutPlan(repo, pile, outDir, String(opts.branch), record, { ...(only ? { only } : {}), force: opts.force === true });
    if (!planned.problems.length) checkoutWithProgress(outDir, planned.plan, pile, opts.json);
    return planned;
  });
  const { branch, plan, tree, problems } = result;
  output(opts.json, { branch, out: outDir, ...checkoutJson(plan), conflicts: tree.conflicts.map(conflictJson), problems }, () => {
    const lines = problems.length ? [] : checkoutLines(outDir, plan);
    if (!problems.length && !plan.write.length && !plan.unchanged.length && !plan.remove.length && !plan.kept.length) lines.push(`no files on ${branch}`);
    const copies = plan.write.filter((f) => isConflictCopy(f.path)).length;
    if (copies && !problems.length) lines.push(`${copies} conflict cop${copies === 1 ? "y" : "ies"} written: both sides changed a file (see \`tribles pile files\`)`);
    return lines.join("\n");
  });
  warnUnreadable(tree);
  if (problems.length) failCheckout(problems, opts.json, "nothing was written");
}

/** Writes a planned checkout, with a byte progress line on a terminal for large files. */
function checkoutWithProgress(dir: string, plan: CheckoutPlan, pile: Pile, json: boolean | undefined): void {
  let total = 0;
  for (const f of plan.write) total += Number(f.size);
  const progress = progressLine("checking out", total, json);
  withProgress(progress, () => applyCheckout(dir, plan, pile.reader(), (n) => progress.add(n)));
}

/** A byte progress line for the file content a commit stores (sizes as they are on disk now). */
function commitProgress(changes: readonly FileChange[], json: boolean | undefined): ProgressLine {
  let total = 0;
  for (const c of changes) {
    if (c.kind === "put") total += c.bytes.length;
    else if (c.kind === "putFile") {
      try {
        total += statSync(c.file).size;
      } catch {
        // gone: the commit itself reports it
      }
    }
  }
  return progressLine("storing", total, json);
}

function withProgress<T>(progress: ProgressLine, fn: () => T): T {
  try {
    return fn();
  } finally {
    progress.end();
  }
}

/** Resolves the branch, reads its tree and plans a checkout of it into `dir`. */
function checkoutPlan(repo: Repository, pile: Pile, dir: string, name: string, record: ReturnType<typeof readRecord>, opts: { only?: string[]; force?: boolean }) {
  const { branch, tree, head } = branchTree(repo, name, pile.path ?? "PILE");
  const plan: CheckoutPlan = planCheckout(dir, tree, pile.reader(), record, { pile: resolve(pile.path ?? "."), branch, head, ...opts });
  return { branch, tree, plan, problems: plan.problems };
}

function checkoutLines(dir: string, plan: CheckoutPlan): string[] {
  const why = { edited: "edited here", deleted: "deleted here", untracked: "a file here the folder never checked out" };
  return [
    ...plan.write.map((f) => `wrote ${join(dir, f.path)}`),
    ...plan.remove.map((p) => `removed ${join(dir, p)} (removed on the branch)`),
    ...plan.kept.map((k) => `KEPT ${join(dir, k.path)}: ${why[k.why]}, and the branch has another version (commit it with \`pile commit --from\` to keep both, or checkout --force to take the branch's)`),
    ...(plan.unchanged.length ? [`${plan.unchanged.length} file${plan.unchanged.length === 1 ? "" : "s"} already up to date`] : []),
  ];
}

function checkoutJson(plan: CheckoutPlan) {
  return { written: plan.write.map((f) => f.path), removed: plan.remove, unchanged: plan.unchanged, kept: plan.kept };
}

function failCheckout(problems: string[], json: boolean | undefined, what: string): never {
  if (!json) for (const p of problems) console.error(`  ${p}`);
  throw new CliError(`${problems.length} problem${problems.length === 1 ? "" : "s"}${json ? " (see problems)" : " (listed above)"}: ${what}`);
}

function readRecordOrFail(dir: string) {
  try {
    return existsSync(dir) ? readRecord(dir) : null;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

// ── shared ─────────────────────────────────────────────────────────────────────────────────────

/** The tree of a local branch (created empty if missing) as it is now. */
function currentTree(repo: Repository, name: string): FileTree {
  const b = repo.lookupBranch(name);
  return b?.meta.head ? treeAt(repo.store.reader(), b.meta.head) : EMPTY_TREE;
}

/**
 * A branch's tree; a local branch's signatures are checked first (tracking heads were checked
 * when they moved). A head whose metadata carries no signature is read, as the reference reads
 * it, with a warning.
 */
function branchTree(repo: Repository, name: string, path: string): { branch: string; tree: FileTree; head: Uint8Array | null } {
  const branch: BranchInfo = resolveBranch(repo, name, path);
  if (!branch.tracking) {
    try {
      if (repo.verifyBranch(branch).headUnsigned) {
        console.error(`warning: branch "${branch.name}": its head is unsigned (the branch metadata carries no signature); the commits' signatures were checked`);
      }
    } catch (err) {
      throw new CliError(`branch "${branch.name}": ${(err as Error).message} (see \`tribles pile log\`); nothing read`);
    }
  }
  const head = branch.meta.head ?? null;
  return { branch: branch.name, tree: head ? treeAt(repo.store.reader(), head) : EMPTY_TREE, head };
}

function warnUnreadable(tree: FileTree): void {
  const n = tree.unreadableCommits.length;
  if (n) console.error(`warning: ${n} commit${n === 1 ? "'s content is" : "s' contents are"} not readable in this pile; their files are not listed`);
  if (tree.unreadableNames) console.error(`warning: ${tree.unreadableNames} file record${tree.unreadableNames === 1 ? " has" : "s have"} an unreadable path`);
}

function reportSkipped(skipped: { path: string; reason: string }[]): void {
  for (const s of skipped) console.error(`skipped ${shown(s.path)}: ${s.reason}`);
}

function summarize(f: TreeEntry, tree: FileTree): FileSummary {
  const unsafe = tree.unsafe.get(f.path);
  return {
    path: f.path,
    name: f.path,
    size: Number(f.size),
    content: toHex(f.content),
    commit: toHex(f.commit),
    time: f.createdAt !== undefined ? new Date(unixMsFromTaiNs(f.createdAt)).toISOString() : null,
    conflictCopy: isConflictCopy(f.path),
    ...(unsafe ? { unsafe } : {}),
  };
}

function conflictJson(c: MergeConflict) {
  return { path: c.path, kept: toHex(c.kept.commit), copy: c.copy.path, copyCommit: toHex(c.copy.commit) };
}

/** A commit as log lines name it: its hash, short, like git. */
export function short(h: Uint8Array): string {
  return toHex(h).slice(0, 12);
}

function describeCounts(added: number, removed: number): string {
  const parts = [];
  if (added) parts.push(`${added} file${added === 1 ? "" : "s"} added or changed`);
  if (removed) parts.push(`${removed} removed`);
  return parts.join(", ");
}

/** A path as shown on a terminal: as is when plain, else JSON-quoted so control characters show. */
function shown(name: string): string {
  return /^[^\s"\\\u0000-\u001f\u007f]+$/.test(name) ? name : JSON.stringify(name);
}

/** Decimal units, as the progress lines of sync, pull and diagnose print them. */
function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}
