/** `tribles pile …`: piles, blobs, branches, commits, history and merges. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { CAC } from "cac";
import { toHex } from "../core/bytes.ts";
import { decodeLongString } from "../core/longstring.ts";
import { unixMsFromTaiNs } from "../core/schemas.ts";
import { diagnosePile } from "../pile/diagnose.ts";
import { filesToContent } from "../repo/files.ts";
import { type BranchInfo, Repository } from "../repo/repository.ts";
import { output, parseHash, signingKey, withPile } from "./common.ts";
import { CliError } from "./errors.ts";

function describeBranch(b: BranchInfo) {
  return {
    id: toHex(b.id),
    name: b.name,
    tracking: b.tracking,
    head: b.meta.head ? toHex(b.meta.head) : null,
    meta: toHex(b.metaHandle),
    ...(b.meta.tracking ? { remotePeer: toHex(b.meta.tracking.remotePeer), remoteBranch: toHex(b.meta.tracking.remoteBranch) } : {}),
  };
}

async function readInput(file: string | undefined): Promise<Uint8Array> {
  if (file === undefined || file === "-") return new Uint8Array(await Bun.stdin.arrayBuffer());
  if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  return new Uint8Array(readFileSync(file));
}

export function register(cli: CAC): void {
  cli.command("pile create <pile>", "Create an empty pile file").action(async (path: string) => {
    if (existsSync(path)) throw new CliError(`${path} already exists`);
    await withPile(path, () => undefined, { create: true });
    console.log(`created ${path}`);
  });

  cli
    .command("pile diagnose <pile>", "Check every record and hash; report counts, branches and corruption (exit 1 if any)")
    .option("--json", "Print the report as JSON")
    .action((path: string, opts: { json?: boolean }) => {
      if (!existsSync(path)) throw new CliError(`${path}: no such pile`);
      const r = diagnosePile(path);
      output(opts.json, r, () =>
        [
          `${r.path}: ${r.fileBytes} bytes, ${r.validBytes} valid`,
          `blobs: ${r.blobRecords} records, ${r.distinctBlobs} distinct, ${r.blobBytes} payload bytes`,
          `branches: ${r.branches.length} live (${r.branchRecords} updates, ${r.tombstones} deletions)`,
          ...r.badBlobs.map((b) => `BAD blob at offset ${b.offset}: payload does not hash to ${b.hash}`),
          ...(r.corruption ? [`CORRUPT at offset ${r.corruption.offset}: ${r.corruption.reason}${r.corruption.tornTail ? " (torn tail: opening the pile truncates it)" : ""}`] : []),
          r.ok ? "ok" : "problems found",
        ].join("\n"),
      );
      return r.ok ? 0 : 1;
    });

  cli
    .command("pile blob put <pile> [file]", "Store a file (or stdin with -) as a blob and print its hash")
    .option("--json", "Print JSON")
    .action(async (path: string, file: string | undefined, opts: { json?: boolean }) => {
      const bytes = await readInput(file);
      const h = await withPile(path, (pile) => pile.put(bytes));
      output(opts.json, { hash: toHex(h), bytes: bytes.length }, () => toHex(h));
    });

  cli
    .command("pile blob get <pile> <hash>", "Write a blob's bytes to stdout or a file")
    .option("-o, --output <file>", "Write to this file instead of stdout")
    .action(async (path: string, hex: string, opts: { output?: string }) => {
      const h = parseHash(hex);
      const bytes = await withPile(path, (pile) => pile.reader().get(h)?.slice());
      if (!bytes) throw new CliError(`blob ${toHex(h)} is not in ${path}`);
      if (opts.output) writeFileSync(opts.output, bytes);
      else await Bun.write(Bun.stdout, bytes);
    });

  cli
    .command("pile blob list <pile>", "List the hashes of all blobs")
    .option("--json", "Print JSON")
    .action(async (path: string, opts: { json?: boolean }) => {
      const hashes = await withPile(path, (pile) => [...pile.reader().list()].map(toHex));
      output(opts.json, hashes, () => hashes.join("\n"));
    });

  cli
    .command("pile branch list <pile>", "List branches (local and tracking)")
    .option("--json", "Print JSON")
    .action(async (path: string, opts: { json?: boolean }) => {
      const branches = await withPile(path, (pile) => new Repository(pile).listBranches().map(describeBranch));
      output(opts.json, branches, () =>
        branches.map((b) => `${b.id}  ${b.tracking ? `${b.name} (tracking ${b.remotePeer?.slice(0, 12)}…)` : b.name}  head ${b.head ?? "(empty)"}`).join("\n"),
      );
    });

  cli.command("pile branch create <pile> <name>", "Create an empty named branch").action(async (path: string, name: string) => {
    const b = await withPile(path, (pile) => describeBranch(new Repository(pile).createBranch(name)));
    console.log(`created branch ${name} (${b.id})`);
  });

  cli.command("pile branch delete <pile> <name>", "Delete a branch (its blobs stay)").action(async (path: string, name: string) => {
    await withPile(path, (pile) => new Repository(pile).deleteBranch(name));
    console.log(`deleted branch ${name}`);
  });

  cli
    .command("pile branch rename <pile> <from> <to>", "Rename a branch (same id and history)")
    .option("--key <file>", "Signing key file (a branch with commits is re-signed)")
    .action(async (path: string, from: string, to: string, opts: { key?: string }) => {
      const key = signingKey(opts, path);
      await withPile(path, (pile) => new Repository(pile, key).renameBranch(from, to));
      console.log(`renamed ${from} to ${to}`);
    });

  cli
    .command("pile branch show <pile> <name>", "Show a branch: id, head commit, author, time, message")
    .option("--json", "Print JSON")
    .action(async (path: string, name: string, opts: { json?: boolean }) => {
      const info = await withPile(path, (pile) => {
        const repo = new Repository(pile);
        const b = repo.requireBranch(name);
        const head = b.meta.head ? commitSummary(repo, b.meta.head) : null;
        return { ...describeBranch(b), commit: head };
      });
      output(opts.json, info, () => `branch ${info.name} (${info.id})\nhead ${info.head ?? "(empty)"}${info.commit ? `\n${formatCommit(info.commit)}` : ""}`);
    });

  cli
    .command("pile commit <pile> [...files]", "Commit files (as blobs) to a branch, signed with your key")
    .option("--branch <name>", "Branch to commit to (created if missing)", { default: "main" })
    .option("-m, --message <msg>", "Commit message")
    .option("--key <file>", "Signing key file (default: $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--create-key", "Create the key file if it does not exist")
    .option("--json", "Print JSON")
    .action(async (path: string, files: string[], opts: { branch: string; message?: string; key?: string; createKey?: boolean; json?: boolean }) => {
      if (opts.message === undefined) throw new CliError("a commit needs a message: -m MSG");
      const entries = files.map((f) => {
        if (!existsSync(f)) throw new CliError(`${f}: no such file`);
        return { name: f, bytes: new Uint8Array(readFileSync(f)) };
      });
      const key = signingKey(opts, path);
      const { content, blobs } = filesToContent(entries);
      const handle = await withPile(path, (pile) => new Repository(pile, key).commit(String(opts.branch), content, opts.message!, blobs));
      output(opts.json, { commit: toHex(handle), branch: opts.branch, files: entries.length }, () => `committed ${toHex(handle)} to ${opts.branch} (${entries.length} files)`);
    });

  cli
    .command("pile log <pile>", "Show a branch's history: hash, author, time, message")
    .option("--branch <name>", "Branch", { default: "main" })
    .option("--json", "Print JSON")
    .action(async (path: string, opts: { branch: string; json?: boolean }) => {
      const commits = await withPile(path, (pile) => {
        const repo = new Repository(pile);
        const b = repo.requireBranch(String(opts.branch));
        return b.meta.head ? [...repo.ancestors(b.meta.head)].map((h) => commitSummary(repo, h)) : [];
      });
      output(opts.json, commits, () => commits.map(formatCommit).join("\n\n"));
    });

  cli
    .command("pile merge <pile>", "Merge one branch into another (fast-forward when possible)")
    .option("--into <name>", "Branch that receives the merge")
    .option("--from <name>", "Branch (local or tracking name) to merge from")
    .option("--key <file>", "Signing key file")
    .action(async (path: string, opts: { into?: string; from?: string; key?: string }) => {
      if (!opts.into || !opts.from) throw new CliError("merge needs --into NAME and --from NAME");
      const key = signingKey(opts, path);
      const result = await withPile(path, (pile) => new Repository(pile, key).merge(opts.into!, opts.from!));
      console.log(`${opts.into}: ${result.kind}${result.head ? ` at ${toHex(result.head)}` : ""}`);
    });
}

interface CommitSummary {
  hash: string;
  author: string | null;
  time: string | null;
  message: string | null;
  parents: string[];
  merge: boolean;
}

function commitSummary(repo: Repository, h: Uint8Array): CommitSummary {
  const reader = repo.store.reader();
  const info = repo.commitInfo(h, reader);
  const messageBytes = info.message ? reader.get(info.message) : undefined;
  return {
    hash: toHex(h),
    author: info.author ? toHex(info.author) : null,
    time: info.createdAt !== undefined ? new Date(unixMsFromTaiNs(info.createdAt)).toISOString() : null,
    message: messageBytes ? decodeLongString(messageBytes) : null,
    parents: info.parents.map(toHex),
    merge: !info.content,
  };
}

function formatCommit(c: CommitSummary): string {
  if (c.merge) return `commit ${c.hash}\nmerge of ${c.parents.join(" ")}`;
  return `commit ${c.hash}\nauthor ${c.author}\ndate   ${c.time}\n\n    ${c.message ?? ""}`;
}
