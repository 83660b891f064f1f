/**
 * Branches whose metadata blob is missing (a partial copy: the branch record arrived before its
 * blob) or unreadable: how the commands name, show and mark them. Only their id names them.
 */
import { toHex } from "../core/bytes.ts";
import type { Repository, UnreadableBranch } from "../repo/repository.ts";

/** A branch whose metadata cannot be read, named by its id (the only way to name it). */
export function unreadableById(repo: Repository, name: string): UnreadableBranch | undefined {
  if (!/^[0-9a-fA-F]{32}$/.test(name)) return undefined;
  return repo.branchOverview().unreadable.find((b) => toHex(b.id) === name.toLowerCase());
}

export interface UnreadableSummary {
  id: string;
  meta: string;
  /** Why the metadata blob cannot be read: not in this pile, or damaged / not branch metadata. */
  problem: "missing" | "unreadable";
  reason: string;
}

export function describeUnreadable(b: UnreadableBranch): UnreadableSummary {
  return { id: toHex(b.id), meta: toHex(b.metaHandle), problem: b.problem, reason: b.reason };
}

/** `metadata missing` / `metadata unreadable: <reason>`, as branch list and diagnose print it. */
export function unreadableMark(b: { problem: "missing" | "unreadable"; reason: string }): string {
  return b.problem === "missing" ? "missing" : `unreadable: ${b.reason}`;
}

export function unreadableAdvice(b: UnreadableSummary, path: string): string {
  const what = b.problem === "missing" ? `its metadata blob ${b.meta} is not in this pile (a partial copy?)` : `its metadata blob ${b.meta} is unreadable (${b.reason})`;
  return `${what}; \`tribles pile branch delete ${path} ${b.id}\` removes the branch`;
}
