/**
 * Registers every command group. Each group is a module exporting `register(cli)`; add new groups
 * here (pile, team, net …).
 */
import type { CAC } from "cac";

export function registerCommands(_cli: CAC): void {}
