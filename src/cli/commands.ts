/** Registers every command group; each module exports `register(cli)`. */
import type { CAC } from "cac";
import { register as registerNet } from "./net.ts";
import { register as registerPile } from "./pile.ts";
import { register as registerRepo } from "./repo.ts";
import { register as registerTeam } from "./team.ts";

export function registerCommands(cli: CAC): void {
  registerPile(cli);
  registerRepo(cli);
  registerNet(cli);
  registerTeam(cli);
  cli
    .command("demo", "Two piles in a temp directory, two peers syncing commits both ways on 127.0.0.1")
    .option("--keep", "Keep the temp directory")
    .option("--tcp", "Use TCP instead of QUIC")
    .action(async (opts: { keep?: boolean; tcp?: boolean }) => (await import("./demo.ts")).runDemo(opts));
}
