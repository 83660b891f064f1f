/**
 * `tribles pile commit | rm | mv | files | checkout | status | log | branch show | merge` definitions (the actions live in
 * repo-actions.ts and files-actions.ts).
 * Keys come from `--key`, then $TRIBLESPACE_KEY, then `self.key` beside the pile.
 */
import type { CAC } from "cac";
import { lazy } from "./lazy.ts";

const load = () => import("./repo-actions.ts");

export function register(cli: CAC): void {
  const loadFiles = () => import("./files-actions.ts");
  const keyOptions = (c: ReturnType<CAC["command"]>) =>
    c
      .option("--branch <name>", "Branch to commit to (created if missing; default main, or the folder's branch with --from)")
      .option("-m, --message <msg>", "Commit message")
      .option("--key <file>", "Signing key file (default: $TRIBLESPACE_KEY, then self.key beside the pile)")
      .option("--create-key", "Create the key file if it does not exist")
      .option("--team-root <hex>", "Team root (default: $TRIBLE_TEAM_ROOT); with --cap, warns when peers will not accept the commit")
      .option("--cap <hex>", "Your capability (default: $TRIBLE_TEAM_CAP)")
      .option("--json", "Print JSON");

  keyOptions(
    cli
      .command(
        "pile commit <pile> [...paths]",
        "Commit files and directories (walked, leaving out what .triblesignore names) under their paths relative to the current directory, or a checked-out folder's local edits with --from DIR; a commit that changes nothing is refused",
      )
      .option("--from <dir>", "Commit what changed in this folder since its checkout (edits, new and deleted files); a file also changed on the branch is committed as a conflict copy"),
  ).action(lazy(loadFiles, "pileCommit"));

  keyOptions(cli.command("pile rm <pile> [...paths]", "Remove files (or directories: everything under them) from a branch, as a commit")).action(lazy(loadFiles, "pileRm"));

  keyOptions(cli.command("pile mv <pile> <from> <to>", "Rename a file or directory on a branch, as a commit")).action(lazy(loadFiles, "pileMv"));

  cli
    .command("pile files <pile>", "The branch's current file tree: path, size, time of the last change, content hash; conflict copies and unsafe paths are marked")
    .option("--branch <name>", "Branch (a local name, a tracking branch's remote name, or a branch id)", { default: "main" })
    .option("--json", "Print JSON")
    .action(lazy(loadFiles, "pileFiles"));

  cli
    .command(
      "pile checkout <pile> [...paths]",
      "Write a branch's files (all, or the paths given) into a folder that remembers what it checked out: files unchanged since their checkout are updated (or removed), local edits are kept and reported; any problem ⇒ nothing is written",
    )
    .option("--branch <name>", "Branch (a local name, a tracking branch's remote name, or a branch id)", { default: "main" })
    .option("--out <dir>", "Folder to write into (created if missing)", { default: "." })
    .option("--force", "Replace local edits with the branch's version too")
    .option("--json", "Print JSON")
    .action(lazy(loadFiles, "pileCheckout"));

  cli
    .command("pile status <dir>", "What changed in a checked-out folder and on its branch since the checkout, and which paths changed on both")
    .option("--pile <pile>", "Pile (default: the one the folder was checked out from)")
    .option("--branch <name>", "Branch (default: the folder's)")
    .option("--json", "Print JSON")
    .action(lazy(loadFiles, "pileStatus"));

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
