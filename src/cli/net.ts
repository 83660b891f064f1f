/**
 * `tribles pile net …`: identity, long-running sync, one-shot pull. Only the command definitions
 * live here; the implementations load on use, so `--help` does not pay for libp2p.
 */
import type { CAC } from "cac";
import { type FetchFlags, withFetchFlags } from "./fetch-flags.ts";
import { withServeFlags } from "./serve-flags.ts";
import type { IdentityOptions } from "./identity-action.ts";
import type { RelayOptions, SyncOptions } from "./net-actions.ts";
import type { TeamOptions } from "./team-context.ts";

export function register(cli: CAC): void {
  cli
    .command("pile net identity [pile]", "Print the PeerId and public key that commands on this pile sign and sync with")
    .option("--pile <file>", "The pile (same as the argument): its key is self.key beside it")
    .option("--key <file>", "Key file (default: $TRIBLESPACE_KEY, then self.key beside the pile, or ./self.key with no pile)")
    .option("--create", "Create the key file if it does not exist (mode 0600)")
    .option("--json", "Print JSON")
    .action(async (pile: string | undefined, opts: IdentityOptions) => (await import("./identity-action.ts")).runIdentity(pile, opts));

  withServeFlags(withFetchFlags(cli.command("pile net sync <pile>", "Sync a pile with peers until interrupted (Ctrl-C stops cleanly)")))
    .option("--peers <peer>", "Peer to dial and keep connected (repeatable): a multiaddr, or a PeerId or public key found through peer routing")
    .option("--listen <multiaddr>", "Address to listen on (repeatable; default every interface, QUIC and TCP on port 4717, a random port if taken)")
    .option("--direct-only", "Refuse relayed connections (/p2p-circuit), dialled or accepted")
    .option("--no-remember", "Neither read nor write the address book PILE.peers.json (remembered peers are dialled by default)")
    .option("--branch <name>", "Only receive these branch names (repeatable; default all)")
    .option("--direction <dir>", "bidirectional | readonly (receive only) | writeonly (publish only)", { default: "bidirectional" })
    .option("--team-root <hex>", "Team root public key (default $TRIBLE_TEAM_ROOT, else your own key)")
    .option("--cap <hex>", "Your capability handle (default $TRIBLE_TEAM_CAP)")
    .option("--key <file>", "Key file (default $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--republish <seconds>", "Re-send our branch heads this often for late joiners", { default: 30 })
    .option("--mdns", "Discover peers on the local network with mDNS")
    .option("--relay <multiaddr>", "A team relay (`tribles relay`, address with /p2p/RELAY-ID) to reserve a slot on, so peers behind NATs reach us; relayed connections are upgraded to direct ones by hole punching when the NATs allow (repeatable; none given: the relays remembered beside the pile from earlier runs)")
    .option("--no-merge", "Keep received branches as tracking branches only (do not merge into local branches)")
    .option("--json", "Print one JSON event per line")
    .action(async (path: string, opts: SyncOptions) => (await import("./net-actions.ts")).runSync(path, opts));

  cli
    .command("pile net status <pile>", "Show the peers a running sync of this pile is connected to: path (direct or relayed), transport, RTT, bytes, last heads")
    .option("--json", 'Print JSON: {"peers": [{"peer", "path": "direct" | "relayed", "relay", "transport", "rttMs", "bytesIn", "bytesOut", …}]}')
    .action(async (path: string, opts: { json?: boolean }) => (await import("./status-action.ts")).runStatus(path, opts));

  cli
    .command("pile net doctor <pile> [peer]", "Check why nothing arrives: listening, relay and reservation, reaching PEER directly or relayed, its verdict on your capability")
    .option("--team-root <hex>", "Team root public key (used when no sync runs)")
    .option("--cap <hex>", "Your capability handle (used when no sync runs)")
    .option("--key <file>", "Key file (used when no sync runs)")
    .option("--direct-only", "Do not try relayed paths (when no sync runs; a running sync uses its own setting)")
    .option("--json", "Print the checks and verdict as JSON")
    .action(async (path: string, peer: string | undefined, opts: import("./reach-actions.ts").DoctorOptions) => (await import("./reach-actions.ts")).runDoctor(path, peer, opts));

  withServeFlags(withFetchFlags(cli.command("relay", "Run a team relay until interrupted: relays connections for team members behind NATs, helps them punch holes, serves the DHT")))
    .option("--pile <file>", "The relay's pile (holds the team's capability chains)")
    .option("--listen <multiaddr>", "Address to listen on (repeatable; a public address teammates can dial)")
    .option("--peers <multiaddr>", "Peer to dial (repeatable)")
    .option("--team-root <hex>", "Team root public key (default $TRIBLE_TEAM_ROOT)")
    .option("--cap <hex>", "The relay's capability handle (default $TRIBLE_TEAM_CAP)")
    .option("--key <file>", "Key file (default $TRIBLESPACE_KEY, then self.key beside the pile)")
    .option("--max-reservations <n>", "Members holding a reservation at once (default 64)")
    .option("--relay-minutes <n>", "A relayed connection is closed after this long; members redial (default 30)")
    .option("--relay-mib <n>", "…or after this many MiB both ways (default 256)")
    .option("--json", "Print one JSON event per line")
    .action(async (opts: RelayOptions & { pile?: string }) => (await import("./net-actions.ts")).runRelay(opts));

  withFetchFlags(cli.command("pile net pull <pile> <remote>", "Fetch one branch from a peer (multiaddr with /p2p/ id), update its tracking branch, exit"))
    .option("--branch <name>", "Remote branch name", { default: "main" })
    .option("--team-root <hex>", "Team root public key")
    .option("--cap <hex>", "Your capability handle")
    .option("--key <file>", "Key file")
    .option("--json", "Print a JSON summary")
    .action(async (path: string, remote: string, opts: TeamOptions & FetchFlags & { branch: string; key?: string; json?: boolean }) =>
      (await import("./net-actions.ts")).runPull(path, remote, opts),
    );
}

