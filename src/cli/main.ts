#!/usr/bin/env bun
/**
 * The `tribles` command line. Each command group lives in its own module and registers itself on
 * the shared cac instance; this file only wires them up and turns errors into one clear line.
 */
import { cac } from "cac";
import { registerCommands } from "./commands.ts";
import { CliError } from "./errors.ts";

export async function main(argv: string[]): Promise<number> {
  const cli = cac("tribles");
  registerCommands(cli);
  cli.help();
  try {
    cli.parse(argv, { run: false });
    if (!cli.matchedCommand) {
      if (cli.options.help || cli.options.version) return 0;
      if (cli.args.length > 0) throw new CliError(`unknown command: ${cli.args.join(" ")} (see tribles --help)`);
      cli.outputHelp();
      return 0;
    }
    const code = await cli.runMatchedCommand();
    return typeof code === "number" ? code : 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`error: ${message}`);
    if (process.env.TRIBLES_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv);
}
