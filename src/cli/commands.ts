/** Registers every command group; each module exports `register(cli)`. */
import type { CAC } from "cac";
import { register as registerNet } from "./net.ts";
import { register as registerPile } from "./pile.ts";
import { register as registerTeam } from "./team.ts";

export function registerCommands(cli: CAC): void {
  registerPile(cli);
  registerNet(cli);
  registerTeam(cli);
}
