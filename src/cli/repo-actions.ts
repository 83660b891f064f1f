/**
 * Actions of `tribles pile commit | log | branch show | merge`, loaded only when one of them runs.
 * A pile is flushed only when the whole command succeeded; signatures are checked whenever history
 * is shown.
 */
import { dirname, resolve } from "node:path";
import { toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { decodeLongString } from "../core/longstring.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import type { BlobReader, Hash } from "../core/store.ts";
import { adoptersOf } from "../repo/adopters.ts";
import { type MergeConflict, treeAt } from "../repo/file-tree.ts";
import { ancestors, readCommit, verifyOne } from "../repo/history.ts";
import { loadKey } from "../repo/keyfile.ts";
import { mergeRemoteHead } from "../repo/remote-merge.ts";
import { type BranchInfo, RepoError, Repository } from "../repo/repository.ts";
import { output, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { describeUnreadable, unreadableAdvice, unreadableById, unreadableMark } from "./unreadable-branches.ts";

export async function pileLog(path: string, opts: { branch: unknown; limit?: unknown; json?: boolean }) {
  const limit = opts.limit === undefined ? Number.POSITIVE_INFINITY : Number(opts.limit);
  if (!(limit >= 0)) throw new CliError(`--limit must be a number, got "${opts.limit}"`);
  const commits = await withPile(path, (pile) => {
    const repo = new Repository(pile);
    const b = resolveBranch(repo, String(opts.branch), path);
    if (!b.meta.head) return [];
    const commits = history(pile.reader(), b.meta.head, limit);
    const merges = new Set(commits.filter((c) => c.merge).map((c) => c.hash));
    const adopters = adoptersOf(pile.reader(), merges);
    for (const c of commits) if (c.merge) c.mergedBy = (adopters.get(c.hash) ?? []).map((a) => toHex(a.key));
    return commits;
  });
  output(opts.json, commits, () => commits.map(formatCommit).join("\n\n"));
  const bad = commits.filter((c) => c.signature === "bad").length;
  if (bad) throw new CliError(`${bad} commit${bad === 1 ? " has a bad signature" : "s have bad signatures"} (marked BAD above)`);
}

export async function pileBranchShow(path: string, name: string, opts: { json?: boolean }) {
  const info = await withPile(path, (pile) => {
    const repo = new Repository(pile);
    const broken = unreadableById(repo, String(name));
    return broken ? describeUnreadable(broken) : describeBranch(repo, resolveBranch(repo, String(name), path));
  });
  if ("problem" in info) {
    output(opts.json, info, () => [`branch ${info.id}`, `metadata ${info.meta}`, `metadata ${unreadableMark(info)}`].join("\n"));
    throw new CliError(`branch ${info.id}: ${unreadableAdvice(info, path)}`);
  }
  output(opts.json, info, () => formatBranch(info));
  if (info.signature === "bad") throw new CliError(`branch "${info.name}": ${info.signatureError}`);
}


export async function pileMerge(path: string, opts: KeyOptions & { into?: unknown; from?: unknown; json?: boolean }) {
  if (typeof opts.into !== "string" || typeof opts.from !== "string") throw new CliError("merge needs --into NAME and --from NAME");
  const [into, from] = [opts.into, opts.from];
  const key = repoKey(opts, path);
  const result = await withPile(path, (pile) => {
    const repo = new Repository(pile, key);
    // Merging a local branch into itself means nothing: the same name in --from names the
    // tracking branch of a remote branch (what `pile net pull` leaves), the usual way to adopt it.
    // Adopting keeps the remote's branch id (created under it, or merged into the local branch
    // with that id) and refuses a local branch of that name with another id.
    if (from === into) {
      const tracking = trackingBranchNamed(repo, from);
      if (!tracking.meta.head) return { head: repo.lookupBranch(into)?.meta.head ?? null, kind: "up-to-date" as const };
      const merged = cliRepoCall(path, () => mergeRemoteHead(repo, tracking.meta.tracking!.remoteBranch, into, tracking.meta.head!));
      return { ...merged, conflicts: merged.kind === "merge" ? treeAt(pile.reader(), merged.head).conflicts : [] };
    }
    const source = resolveBranch(repo, from, path);
    const target = repo.lookupBranch(into);
    if (!source.meta.head) return { head: target?.meta.head ?? null, kind: "up-to-date" as const };
    // A missing --into branch is created at the source's head.
    const merged = repo.integrate(into, source.meta.head);
    return { ...merged, conflicts: merged.kind === "merge" ? treeAt(pile.reader(), merged.head).conflicts : [] };
  });
  const head = result.head ? toHex(result.head) : null;
  const conflicts = "conflicts" in result ? result.conflicts : [];
  const text = {
    "up-to-date": `${into} is already up to date`,
    "fast-forward": `${into} fast-forwarded to ${head}`,
    merge: `${into} merged ${from}: merge commit ${head}`,
    created: `created ${into} at ${head} (from ${from})`,
  };
  output(opts.json, { into, from, kind: result.kind, head, conflicts: conflicts.map((c) => ({ path: c.path, copy: c.copy.path })) }, () => [text[result.kind], ...conflicts.map(describeConflict)].join("\n"));
}

/** One line for a path both sides changed: which version stays, where the other went. */
export function describeConflict(c: MergeConflict): string {
  return `CONFLICT ${c.path}: both sides changed it; kept the version changed last (commit ${toHex(c.kept.commit).slice(0, 12)}), the other (commit ${toHex(c.copy.commit).slice(0, 12)}) is at ${c.copy.path}`;
}

/** Runs a repository call whose "branch-mismatch" error is a user's error: one line, naming the pile. */
export function cliRepoCall<T>(path: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof RepoError && err.code === "branch-mismatch") throw new CliError(err.message.replaceAll("PILE", path));
    throw err;
  }
}

/** The one tracking branch with this remote name. */
function trackingBranchNamed(repo: Repository, name: string): BranchInfo {
  const tracking = repo.listBranches().filter((b) => b.tracking && b.name === name);
  if (tracking.length === 1) return tracking[0]!;
  if (tracking.length > 1) throw new CliError(`"${name}" names ${tracking.length} tracking branches; use a branch id in --from: ${tracking.map((b) => toHex(b.id)).join(", ")}`);
  throw new CliError(`--from ${name} equals --into: expected a tracking branch named "${name}" (from \`tribles pile net pull\` or sync), found none`);
}

export interface KeyOptions {
  key?: unknown;
  createKey?: boolean;
}

/** The signing key for a pile command; a missing key says how to make one. */
export function repoKey(opts: KeyOptions, pilePath: string): SigningKey {
  if (opts.key === true) throw new CliError("--key needs a file path");
  let loaded: ReturnType<typeof loadKey>;
  try {
loaded = loadKey({
  ...(opts.key !== undefined ? { path: String(opts.key) } : {}),
  dir: dirname(resolve(pilePath)),
  create: opts.createKey === true,
  missingHint: "pass --create-key to create it, or name another with --key FILE or $TRIBLESPACE_KEY",
});
  } catch (err) {
throw new CliError((err as Error).message);
}
  // Only the public half is ever shown.
  if (loaded.created) console.error(`created key file ${loaded.path} (public key ${toHex(loaded.key.publicKey)})`);
  if (loaded.warning) console.error(`warning: ${loaded.warning}`);
  return loaded.key;
}

/**
 * A branch by local name; else the one tracking branch with that remote name; else a branch id
 * in hex. Several tracking branches with the name (from different peers) must be named by id.
 */
export function resolveBranch(repo: Repository, name: string, pilePath = "PILE"): BranchInfo {
  const local = repo.lookupBranch(name);
  if (local) return local;
  const tracking = repo.listBranches().filter((b) => b.tracking && b.name === name);
  if (tracking.length === 1) return tracking[0]!;
  if (tracking.length > 1) throw new CliError(`"${name}" names ${tracking.length} tracking branches; use a branch id: ${tracking.map((b) => toHex(b.id)).join(", ")}`);
  if (/^[0-9a-fA-F]{32}$/.test(name)) {
    const byId = repo.listBranches().find((b) => toHex(b.id) === name.toLowerCase());
    if (byId) return byId;
  }
  const broken = unreadableById(repo, name);
  if (broken) throw new CliError(`branch ${name}: ${unreadableAdvice(describeUnreadable(broken), pilePath)}`);
  const unreadable = repo.branchOverview().unreadable.length;
  const hint = unreadable ? `; ${unreadable} branch${unreadable === 1 ? " has" : "es have"} unreadable metadata and no name` : "";
  throw new CliError(`unknown branch "${name}" (see \`tribles pile branch list\`${hint})`);
}

interface CommitSummary {
  hash: string;
  /** Absent when the commit is not in this pile (history fetched only in part). */
  missing?: true;
  merge: boolean;
  author: string | null;
  time: string | null;
  message: string | null;
  parents: string[];
  /** For a merge: the keys that signed a branch update adopting it, earliest first (who merged; empty when none is in this pile). */
  mergedBy?: string[];
  /** "ok", "bad", or "unsigned" (merge commits are unsigned by design). */
  signature: "ok" | "bad" | "unsigned";
  signatureError?: string;
}

function history(reader: BlobReader, head: Hash, limit: number): CommitSummary[] {
  const out: CommitSummary[] = [];
  for (const h of ancestors(reader, head, true)) {
    if (out.length >= limit) break;
    out.push(summarize(reader, h));
  }
  return out;
}

function summarize(reader: BlobReader, h: Hash): CommitSummary {
  const hash = toHex(h);
  let info: ReturnType<typeof readCommit>;
  try {
    info = readCommit(reader, h);
  } catch (err) {
    return { hash, missing: true, merge: false, author: null, time: null, message: null, parents: [], signature: "bad", signatureError: (err as Error).message };
  }
  const summary: CommitSummary = {
    hash,
    merge: !info.content,
    author: info.author ? toHex(info.author) : null,
    time: info.createdAt !== undefined ? new Date(unixMsFromTaiNs(info.createdAt)).toISOString() : null,
    message: readMessage(reader, info.message),
    parents: info.parents.map(toHex),
    signature: info.content ? "ok" : "unsigned",
  };
  try {
    verifyOne(reader, h);
  } catch (err) {
    summary.signature = "bad";
    summary.signatureError = (err as Error).message;
  }
  return summary;
}

function readMessage(reader: BlobReader, h: Hash | undefined): string | null {
  if (!h) return null;
  try {
    const bytes = reader.get(h);
    return bytes ? decodeLongString(bytes) : null;
  } catch {
    return null;
  }
}

function formatCommit(c: CommitSummary): string {
  if (c.missing) return `commit ${c.hash}\n    (not readable in this pile: ${c.signatureError})`;
  const sig = c.signature === "bad" ? `\nBAD SIGNATURE: ${c.signatureError}` : "";
  if (c.merge) {
    const by = c.mergedBy === undefined ? "" : c.mergedBy.length ? `\nmerged by ${c.mergedBy[0]} (signed the first branch update adopting it)${c.mergedBy.length > 1 ? `\nalso adopted by ${c.mergedBy.slice(1).join(", ")}` : ""}` : "\nmerged by: unknown (no signed branch update adopting it is in this pile)";
    return `commit ${c.hash} (merge, unsigned by design)\nmerge of ${c.parents.join(" ")}${by}${sig}`;
  }
  const verified = c.signature === "ok" ? " (signature verified)" : "";
  return `commit ${c.hash}\nauthor ${c.author}${verified}\ndate   ${c.time}${sig}\n\n    ${(c.message ?? "").split("\n").join("\n    ")}`;
}

interface BranchSummary {
  id: string;
  name: string;
  tracking: boolean;
  meta: string;
  head: string | null;
  updatedAt: string | null;
  signedBy: string | null;
  /** `unsigned`: no head, a tracking branch, or a head whose metadata carries no signature (`headUnsigned`). */
  signature: "ok" | "bad" | "unsigned";
  headUnsigned?: true;
  signatureError?: string;
  remotePeer?: string;
  remoteBranch?: string;
  commit: CommitSummary | null;
}

function describeBranch(repo: Repository, b: BranchInfo): BranchSummary {
  const reader = repo.store.reader();
  const summary: BranchSummary = {
    id: toHex(b.id),
    name: b.name,
    tracking: b.tracking,
    meta: toHex(b.metaHandle),
    head: b.meta.head ? toHex(b.meta.head) : null,
    updatedAt: b.meta.updatedAt ? new Date(unixMsFromTaiNs(b.meta.updatedAt.lower)).toISOString() : null,
    signedBy: b.meta.signedBy ? toHex(b.meta.signedBy) : null,
    signature: "unsigned",
    ...(b.meta.tracking ? { remotePeer: toHex(b.meta.tracking.remotePeer), remoteBranch: toHex(b.meta.tracking.remoteBranch) } : {}),
    commit: b.meta.head ? summarize(reader, b.meta.head) : null,
  };
  // Tracking metadata is written locally and unsigned; its head was verified when it moved.
  if (b.meta.head && !b.tracking) {
    try {
      if (repo.verifyBranch(b).headUnsigned) summary.headUnsigned = true;
      else summary.signature = "ok";
    } catch (err) {
      summary.signature = "bad";
      summary.signatureError = (err as Error).message;
    }
  }
  return summary;
}

function formatBranch(b: BranchSummary): string {
  const lines = [`branch ${b.name} (${b.id})${b.tracking ? ` tracking ${b.remoteBranch} of peer ${b.remotePeer}` : ""}`, `metadata ${b.meta}`];
  if (b.updatedAt) lines.push(`updated ${b.updatedAt}`);
  lines.push(`head ${b.head ?? "(empty)"}`);
  if (b.signature === "ok") lines.push(`signed by ${b.signedBy} (verified, with the whole history)`);
  if (b.headUnsigned) lines.push("head UNSIGNED: the branch metadata carries no signature (as the reference's branch_unsigned writes it); the commits' signatures were checked");
  if (b.signature === "bad") lines.push(`BAD SIGNATURE: ${b.signatureError}`);
  if (b.commit) lines.push("", formatCommit(b.commit));
  return lines.join("\n");
}
