/** `tribles pile …` definitions: piles, blobs and branches (the actions live in pile-actions.ts). */
import type { CAC } from "cac";
import { lazy } from "./lazy.ts";

const load = () => import("./pile-actions.ts");

export function register(cli: CAC): void {
  cli.command("pile create <pile>", "Create an empty pile file").action(lazy(load, "pileCreate"));

  cli
    .command("pile diagnose <pile>", "Check every record and hash; report counts, branches and corruption (exit 1 if any)")
    .option("--json", "Print the report as JSON")
    .action(lazy(load, "pileDiagnose"));

  cli
    .command("pile repair <pile>", "Cut off damaged bytes at the end of a pile that opening refuses to truncate, after saving them to PILE.damaged-tail-OFFSET")
    .option("--force", "Cut at the first damaged record even though valid-looking records follow it (they are saved too)")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileRepair"));

  cli
    .command("pile blob put <pile> [file]", "Store a file (or stdin with -) as a blob and print its hash")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileBlobPut"));

  cli
    .command("pile blob get <pile> <hash>", "Write a blob's bytes to stdout or a file")
    .option("-o, --output <file>", "Write to this file instead of stdout")
    .action(lazy(load, "pileBlobGet"));

  cli
    .command("pile blob list <pile>", "List the hashes of all blobs")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileBlobList"));

  cli
    .command("pile branch list <pile>", "List branches (local and tracking) with their ids; with a capability, what it grants on each")
    .option("--cap <hex>", "Show what this capability grants on each branch (default $TRIBLE_TEAM_CAP; needs the team root)")
    .option("--team-root <hex>", "Team root the capability is verified against (default $TRIBLE_TEAM_ROOT)")
    .option("--json", "Print JSON")
    .action(lazy(load, "pileBranchList"));

  cli.command("pile branch create <pile> <name>", "Create an empty named branch").action(lazy(load, "pileBranchCreate"));

  cli.command("pile branch delete <pile> <name>", "Delete a branch by name, or any branch (also a tracking one) by id; its blobs stay").action(lazy(load, "pileBranchDelete"));

  cli
    .command("pile branch rename <pile> <from> <to>", "Rename a branch (same id and history)")
    .option("--key <file>", "Signing key file (a branch with commits is re-signed)")
    .action(lazy(load, "pileBranchRename"));
}
