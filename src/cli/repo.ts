/**
 * `tribles pile commit | files | checkout | log | branch show | merge` definitions (the actions live in
 * repo-actions.ts and files-actions.ts).
 * Keys come from `--key`, then $TRIBLESPACE_KEY, then `self.key` beside the pile.
 */
import type { CAC } from "cac";
import { lazy } from "./lazy.ts";

const load = () => import("./repo-actions.ts");

export function register(cli: CAC): void {
  cli
    .command("pile commit <pile> [...files]", "Commit files (stored as blobs) to a branch, signed with your key")
    .option("--branch <name>", "Branch to commit to (created if missing)", { default: "main" })
    .option("-m, --message <msg>", "Commit message (required)")
    .option("--key <file>", "Signing key file (default: $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--create-key", "Create the key file if it does not exist")
    .option("--team-root <hex>", "Team root (default: $TRIBLE_TEAM_ROOT); with --cap, warns when peers will not accept the commit")
    .option("--cap <hex>", "Your capability (default: $TRIBLE_TEAM_CAP)")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileCommit"));

  const loadFiles = () => import("./files-actions.ts");
  cli
    .command("pile files <pile>", "The files on a branch: the newest committed version of each name, with size, time and content hash")
    .option("--branch <name>", "Branch (a local name, a tracking branch's remote name, or a branch id)", { default: "main" })
    .option("--json", "Print JSON")
    .action(lazy(loadFiles, "pileFiles"));

  cli
    .command("pile checkout <pile> [...names]", "Write a branch's files (all, or the names given) into a directory; other content is replaced only with --force")
    .option("--branch <name>", "Branch (a local name, a tracking branch's remote name, or a branch id)", { default: "main" })
    .option("--out <dir>", "Directory to write into (created if missing)", { default: "." })
    .option("--force", "Replace files that exist with other content")
    .option("--json", "Print JSON")
    .action(lazy(loadFiles, "pileCheckout"));

  cli
    .command("pile log <pile>", "A branch's history, newest first: hash, author, time, message (signatures checked)")
    .option("--branch <name>", "Branch (a local name, a tracking branch's remote name, or a branch id)", { default: "main" })
    .option("-n, --limit <count>", "Show at most this many commits")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileLog"));

  cli
    .command("pile branch show <pile> <name>", "A branch: id, head, who signed it, and its head commit (signatures checked)")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileBranchShow"));

  cli
    .command("pile merge <pile>", "Merge one branch into another: fast-forward when possible, else a merge commit")
    .option("--into <name>", "Local branch that receives the merge (created if missing)")
    .option("--from <name>", "Branch to merge from: a local name, a tracking branch's remote name, or a branch id; the same name as --into means the tracking branch of that name")
    .option("--key <file>", "Signing key file (the moved branch head is signed)")
    .option("--create-key", "Create the key file if it does not exist")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileMerge"));
}
