/** `tribles team …` definitions: create a team, invite members, revoke keys, inspect capabilities (actions in team-actions.ts). */
import type { CAC } from "cac";
import { lazy } from "./lazy.ts";

const load = () => import("./team-actions.ts");

export function register(cli: CAC): void {
  cli
    .command(
      "team create",
      "Create a team: a new root key signs an admin capability for you. Every capability issued under yours " +
        "stops working when yours expires (default 10 years); to renew, issue yourself a new one with the root " +
        "secret: team invite YOUR_KEY --perm admin --expires 10y --key team-root.key --team-root ROOT --pile PILE",
    )
    .option("--pile <pile>", "Pile that stores the capability blobs")
    .option("--key <file>", "Your key file (default $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--expires <when>", "Until when your admin capability is valid: 90m, 12h, 30d, 2w, 1y (365 days) or a date like 2036-06-30", { default: "10y" })
    .option("--root-key-out <file>", "Where to save the team root secret (mode 0600; default team-root.key beside the pile)")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamCreate"));

  cli
    .command("team invite <peerKey>", "Issue a capability to a peer (prints the handle to hand over); needs your admin capability, or the root key as --key")
    .option("--pile <pile>", "Pile holding your capability; the new one is stored there too")
    .option("--perm <perm>", "read | write | admin", { default: "read" })
    .option("--branch <name>", "Limit to this branch (name or 32-hex id; repeatable)")
    .option("--expires <when>", "Until when: 30s, 90m, 12h, 30d, 2w, 1y or a date like 2027-06-30 (default 30d, cut to your capability's expiry if that is sooner; asking for longer is refused)")
    .option("--team-root <hex>", "Team root, as printed by team create (default $TRIBLE_TEAM_ROOT; required)")
    .option("--cap <hex>", "Your admin capability, as printed by team create (default $TRIBLE_TEAM_CAP)")
    .option("--key <file>", "Your key file")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamInvite"));

  cli
    .command("team revoke <peerKey>", "Revoke a key (signed with the team root secret)")
    .option("--pile <pile>", "Pile to store the revocation in (it spreads by sync)")
    .option("--root-key <file>", "Team root key file (default $TRIBLE_TEAM_ROOT_SECRET, then team-root.key beside the pile, then in the current directory)")
    .option("--team-root <hex>", "If given (or $TRIBLE_TEAM_ROOT), check the root key belongs to this team root")
    .action(lazy(load, "teamRevoke"));

  cli
    .command("team list", "List the capabilities in a pile, verified against the team root; those ending within 7 days are marked")
    .option("--pile <pile>", "Pile to read")
    .option("--team-root <hex>", "Team root, as printed by team create (default $TRIBLE_TEAM_ROOT; required)")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamList"));

  cli
    .command("team show <cap>", "Show one capability")
    .option("--pile <pile>", "Pile to read")
    .option("--team-root <hex>", "Team root, as printed by team create (default $TRIBLE_TEAM_ROOT; required)")
    .option("--json", "Print JSON")
    .action(lazy(load, "teamShow"));
}
