/**
 * Actions of `tribles pile files | checkout`: the files committed on a branch (the newest version
 * of each name), listed or written into a directory. Names and bytes may come from any peer, so
 * names are checked before they become paths, and a file that exists with other content is only
 * replaced with --force (the replacement is written beside it and renamed over it).
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toHex } from "../core/bytes.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import type { BlobReader } from "../core/store.ts";
import { type BranchFile, filesAt } from "../repo/files.ts";
import { Repository } from "../repo/repository.ts";
import { output, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { resolveBranch } from "./repo-actions.ts";

interface FileSummary {
  name: string;
  size: number;
  content: string;
  commit: string;
  time: string | null;
  versions: number;
}

export async function pileFiles(path: string, opts: { branch: unknown; json?: boolean }) {
  const { branch, found } = await withPile(path, (pile) => branchFiles(new Repository(pile), String(opts.branch), path));
  const files = found.files.map(summarize);
  output(opts.json, { branch, files, unreadableCommits: found.unreadableCommits.map(toHex), unreadableNames: found.unreadableNames }, () => {
    if (files.length === 0) return `no files on ${branch}`;
    const width = files.reduce((w, f) => Math.max(w, displayName(f.name).length), 0);
    return files
      .map((f) => {
        const versions = f.versions > 1 ? `  (${f.versions} versions)` : "";
        return `${displayName(f.name).padEnd(width)}  ${formatSize(f.size).padStart(10)}  ${f.time ?? "(no time)"}  ${f.content}${versions}`;
      })
      .join("\n");
  });
  warnUnreadable(found);
}

export async function pileCheckout(path: string, names: string[], opts: { branch: unknown; out?: unknown; force?: boolean; json?: boolean }) {
  if (opts.out === true) throw new CliError("--out needs a directory");
  const outDir = resolve(opts.out === undefined ? "." : String(opts.out));
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new CliError(`${outDir}: not a directory`);
  const result = await withPile(path, (pile) => {
    const { branch, found } = branchFiles(new Repository(pile), String(opts.branch), path);
    const wanted = names.length ? names : found.files.map((f) => f.name);
    const byName = new Map(found.files.map((f) => [f.name, f]));
    const problems: string[] = names.filter((n) => !byName.has(n)).map((n) => `${n}: no file of that name on ${branch} (see \`tribles pile files\`)`);
    const selected = wanted.flatMap((n) => byName.get(n) ?? []);
    if (selected.length) mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    const unchanged: string[] = [];
    for (const file of selected) {
      const outcome = writeFile(pile.reader(), file, outDir, opts.force === true);
      if (outcome === "written") written.push(file.name);
      else if (outcome === "unchanged") unchanged.push(file.name);
      else problems.push(outcome.problem);
    }
    return { branch, found, written, unchanged, problems };
  });
  const { branch, written, unchanged, problems } = result;
  output(opts.json, { branch, out: outDir, written, unchanged, problems }, () => {
    const lines = [...written.map((n) => `wrote ${join(outDir, n)}`), ...unchanged.map((n) => `unchanged ${join(outDir, n)}`)];
    if (!written.length && !unchanged.length && !problems.length) lines.push(`no files on ${branch}`);
    return lines.join("\n");
  });
  warnUnreadable(result.found);
  if (problems.length) {
    if (!opts.json) for (const p of problems) console.error(`  ${p}`);
    throw new CliError(`${problems.length} file${problems.length === 1 ? " was" : "s were"} not written${opts.json ? " (see problems)" : " (listed above)"}`);
  }
}

/**
 * A branch's files; a local branch's signatures are checked first (tracking heads were checked
 * when they moved). A head whose metadata carries no signature is read, as the reference reads
 * it, with a warning.
 */
function branchFiles(repo: Repository, name: string, path: string) {
  const branch = resolveBranch(repo, name, path);
  if (!branch.tracking) {
    try {
      if (repo.verifyBranch(branch).headUnsigned) {
        console.error(`warning: branch "${branch.name}": its head is unsigned (the branch metadata carries no signature); the commits' signatures were checked`);
      }
    } catch (err) {
      throw new CliError(`branch "${branch.name}": ${(err as Error).message} (see \`tribles pile log\`); nothing read`);
    }
  }
  const found = branch.meta.head ? filesAt(repo.store.reader(), branch.meta.head) : { files: [], unreadableCommits: [], unreadableNames: 0 };
  return { branch: branch.name, found };
}

/** Writes one file: its blob must be in the pile, match the recorded size, and not clobber other content unless forced. */
function writeFile(reader: BlobReader, file: BranchFile, outDir: string, force: boolean): "written" | "unchanged" | { problem: string } {
  const shown = displayName(file.name);
  if (!file.safe) return { problem: `${shown}: not a plain file name, not written` };
  let bytes: Uint8Array | undefined;
  try {
    bytes = reader.get(file.content);
  } catch (err) {
    return { problem: `${shown}: ${(err as Error).message}` };
  }
  if (!bytes) return { problem: `${shown}: its content ${toHex(file.content)} is not in this pile (history fetched only in part?)` };
  if (BigInt(bytes.length) !== file.size) return { problem: `${shown}: recorded as ${file.size} bytes but its blob has ${bytes.length}` };
  const target = join(outDir, file.name);
  const existing = lstatOrNull(target);
  if (existing) {
    if (existing.isFile() && existing.size === bytes.length && Buffer.from(readFileSync(target)).equals(bytes)) return "unchanged";
    if (existing.isDirectory()) return { problem: `${target}: a directory is in the way` };
    if (!force) return { problem: `${target} exists with other content (pass --force to replace it)` };
  }
  const temp = `${target}.tribles-${process.pid}.tmp`;
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    return { problem: `${target}: ${(err as Error).message}` };
  }
  return "written";
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function warnUnreadable(found: ReturnType<typeof filesAt>): void {
  const n = found.unreadableCommits.length;
  if (n) console.error(`warning: ${n} commit${n === 1 ? "'s content is" : "s' contents are"} not readable in this pile; their files are not listed`);
  if (found.unreadableNames) console.error(`warning: ${found.unreadableNames} file record${found.unreadableNames === 1 ? " has" : "s have"} an unreadable name`);
}

function summarize(f: BranchFile): FileSummary {
  return {
    name: f.name,
    size: Number(f.size),
    content: toHex(f.content),
    commit: toHex(f.commit),
    time: f.createdAt !== undefined ? new Date(unixMsFromTaiNs(f.createdAt)).toISOString() : null,
    versions: f.versions,
  };
}

/** A name as shown on a terminal: as is when plain, else JSON-quoted so control characters show. */
function displayName(name: string): string {
  return /^[^\s"\\\u0000-\u001f\u007f]+$/.test(name) ? name : JSON.stringify(name);
}

/** Decimal units, as the progress lines of sync, pull and diagnose print them. */
function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}
