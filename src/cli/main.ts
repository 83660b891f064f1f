#!/usr/bin/env bun
/**
 * The `tribles` command line. Command groups register multi-word commands ("pile blob put …") on
 * one cac instance; cac matches a single word, so the leading words of argv are joined into the
 * longest registered command name before parsing. Errors become one clear line and an exit code.
 */
import { cac } from "cac";
import pkg from "../../package.json" with { type: "json" };
import { PROTOCOL_V4, PROTOCOL_V5 } from "../net/versions.ts";
import { prepareArgs, restoreTypedValues } from "./argv.ts";
import { registerCommands } from "./commands.ts";
import { CliError } from "./errors.ts";

export function versionLine(): string {
  return `tribles ${pkg.version} (bun ${Bun.version}; protocols ${PROTOCOL_V4}, ${PROTOCOL_V5}; pile format triblespace 0.42.1)`;
}

/** Joins the leading words of `args` into the longest registered command name. */
function joinCommandWords(args: string[], names: string[]): string[] {
  for (const name of [...names].sort((a, b) => b.length - a.length)) {
    const words = name.split(" ");
    if (words.length > 1 && words.every((w, i) => args[i] === w)) return [name, ...args.slice(words.length)];
  }
  return args;
}

export async function main(argv: string[]): Promise<number> {
  const cli = cac("tribles");
  registerCommands(cli);
  // cac's help for one command shows its usage and options but not what it does: add that.
  cli.help((sections) => {
    const description = cli.matchedCommand?.description;
    if (description) sections.splice(1, 0, { body: description });
    // cac shows a --no-X flag's implied "X: true" as "(default: true)", which reads as if the
    // flag were on by default.
    for (const section of sections) section.body = section.body.replace(/^(\s*--no-\S+.*?) \(default: true\)/gm, "$1");
    return sections;
  });
  // `tribles help [command…]` is `tribles [command…] --help`.
  const args = argv[2] === "help" ? [...argv.slice(3), "--help"] : argv.slice(2);
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    console.log(versionLine());
    return 0;
  }
  try {
    const names = cli.commands.map((c) => c.name).filter(Boolean);
    const joined = joinCommandWords(args, names);
    // A group prefix alone ("tribles pile blob") lists the commands under it.
    const prefix = joined.filter((a) => !a.startsWith("-")).join(" ");
    if (joined === args && args.length > 0 && !names.includes(args[0]!) && names.some((n) => n.startsWith(`${prefix} `))) {
      const unknown = args.find((a) => a.startsWith("-") && a !== "--help" && a !== "-h");
      if (unknown) throw new CliError(`unknown option ${unknown}: "tribles ${prefix}" is a group of commands (see tribles ${prefix} --help)`);
      console.log(`Commands under "tribles ${prefix}":`);
      for (const c of cli.commands.filter((c) => c.name.startsWith(`${prefix} `))) console.log(`  tribles ${c.rawName.padEnd(44)} ${c.description}`);
      return 0;
    }
    const parsedArgs = prepareArgs(joined, cli);
    cli.parse([argv[0]!, argv[1]!, ...parsedArgs], { run: false });
    restoreTypedValues(parsedArgs, cli);
    if (!cli.matchedCommand) {
      if (cli.options.help) return 0;
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

/** Resolves once what was written to `stream` so far has been handed to the OS. */
const drained = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));

if (import.meta.main) {
  const code = await main(process.argv);
  // The command is done (piles closed, nodes stopped), but libp2p leaves timers behind (the
  // address manager's debounce, for one) that would keep the process alive for another second.
  // Exit now, once stdout and stderr are written out.
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
