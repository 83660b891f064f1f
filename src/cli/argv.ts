/**
 * Argument fixes around cac 7.1's parser, applied by main.ts before and after `cli.parse`:
 * - kebab-case boolean flags (`--create-key`) swallowed the next argument as their value;
 * - a value starting with a dash and a digit (`--expires -5d`) was read as short flags;
 * - values that look like numbers were turned into numbers (`-m 007` became 7).
 */
import type { cac } from "cac";

type Cli = ReturnType<typeof cac>;

const camelCase = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** Where option parsing ends: at `--`, if given. */
const optionsEnd = (args: string[]) => (args.indexOf("--") === -1 ? args.length : args.indexOf("--"));

/** The (camelCased) names of every option, boolean or taking a value, across all commands. */
function optionNames(cli: Cli, boolean: boolean): Set<string> {
  const names = new Set<string>();
  for (const command of [cli.globalCommand, ...cli.commands]) {
    for (const option of command.options) if (Boolean(option.isBoolean) === boolean && !option.negated) for (const name of option.names) names.add(name);
  }
  return names;
}

/** The arguments as cac should see them (the first two fixes above). */
export function prepareArgs(args: string[], cli: Cli): string[] {
  return camelCaseBooleanFlags(joinDashedValues(args, cli), cli);
}

/**
 * cac hands its parser the camelCased names of boolean options, so `--create-key` is not known to
 * be boolean and takes the next argument (`commit -m x --create-key a.txt b.txt` lost a.txt).
 * Spelled in camelCase, which cac accepts as the same option, the flag stays boolean.
 */
function camelCaseBooleanFlags(args: string[], cli: Cli): string[] {
  const booleans = optionNames(cli, true);
  const end = optionsEnd(args);
  return args.map((arg, i) => {
    if (i >= end || !/^--[a-z0-9]+(-[a-z0-9]+)+$/.test(arg)) return arg;
    const camel = camelCase(arg.slice(2));
    return booleans.has(camel) ? `--${camel}` : arg;
  });
}

/** `--expires -5d` becomes `--expires=-5d`, so the command gets the value and can say what is wrong. */
function joinDashedValues(args: string[], cli: Cli): string[] {
  const valued = optionNames(cli, false);
  const end = optionsEnd(args);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = i < end ? /^--?([a-zA-Z][\w-]*)$/.exec(arg)?.[1] : undefined;
    const next = args[i + 1];
    if (name && valued.has(camelCase(name)) && next !== undefined && i + 1 < end && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Puts every option value of the matched command back exactly as typed (all ours take text). */
export function restoreTypedValues(args: string[], cli: Cli): void {
  const command = cli.matchedCommand;
  if (!command) return;
  const valued = [...cli.globalCommand.options, ...command.options].filter((o) => !o.isBoolean);
  const typed = new Map<(typeof valued)[number], string[]>();
  const end = optionsEnd(args);
  for (let i = 0; i < end; i++) {
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(args[i]!);
    if (!match) continue;
    const option = valued.find((o) => o.names.includes(camelCase(match[1]!)));
    if (!option) continue;
    const value = match[2] ?? (i + 1 < end ? args[++i]! : undefined);
    if (value !== undefined) typed.set(option, [...(typed.get(option) ?? []), value]);
  }
  for (const [option, values] of typed) {
    const restored = values.length === 1 ? values[0] : values;
    for (const name of option.names) if (name in cli.options) cli.options[name] = restored;
  }
}
