/** `tribles team …` definitions: create a team, invite members, revoke keys, inspect capabilities (actions in team-actions.ts). */
import type { CAC } from "cac";
import { lazy } from "./lazy.ts";

const load = () => import("./team-actions.ts");

export function register(cli: CAC): void {
  cli
    .command("team create", "Create a team: a new root key signs an admin capability for you")
    .option("--pile <pile>", "Pile that stores the capability blobs")
    .option("--key <file>", "Your key file (default $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--root-key-out <file>", "Where to save the team root secret (mode 0600; default team-root.key beside the pile)")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamCreate"));

  cli
    .command("team invite <peerKey>", "Issue a capability to a peer (prints the handle to hand over)")
    .option("--pile <pile>", "Pile holding your capability; the new one is stored there too")
    .option("--perm <perm>", "read | write | admin", { default: "read" })
    .option("--branch <name>", "Limit to this branch (name or 32-hex id; repeatable)")
    .option("--expires <duration>", "Validity, e.g. 30d, 12h", { default: "30d" })
    .option("--team-root <hex>", "Team root (default $TRIBLE_TEAM_ROOT)")
    .option("--cap <hex>", "Your capability (default $TRIBLE_TEAM_CAP)")
    .option("--key <file>", "Your key file")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamInvite"));

  cli
    .command("team revoke <peerKey>", "Revoke a key (signed with the team root secret)")
    .option("--pile <pile>", "Pile to store the revocation in (it spreads by sync)")
    .option("--root-key <file>", "Team root key file (default $TRIBLE_TEAM_ROOT_SECRET)")
    .action(lazy(load, "teamRevoke"));

  cli
    .command("team list", "List the capabilities in a pile, verified against the team root")
    .option("--pile <pile>", "Pile to read")
    .option("--team-root <hex>", "Team root (default $TRIBLE_TEAM_ROOT)")
    .option("--key <file>", "Your key file")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamList"));

  cli
    .command("team show <cap>", "Show one capability")
    .option("--pile <pile>", "Pile to read")
    .option("--team-root <hex>", "Team root (default $TRIBLE_TEAM_ROOT)")
    .option("--key <file>", "Your key file")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamShow"));
}
