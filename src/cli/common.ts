/** Small helpers shared by the command modules: opening piles, keys, hex arguments, output. */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fromHex, toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { idFromHex } from "../core/id.ts";
import { Pile } from "../pile/pile.ts";
import { loadKey } from "../repo/keyfile.ts";
import { CliError } from "./errors.ts";

/** Opens an existing pile (`create` to allow a new file); errors name the file. */
export function openPile(path: string, opts: { create?: boolean } = {}): Pile {
  if (!opts.create && !existsSync(path)) throw new CliError(`${path}: no such pile (create it with \`tribles pile create ${path}\`)`);
  let pile: Pile;
  try {
    pile = Pile.open(path, { create: opts.create ?? false });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  for (const t of pile.repairedTails) {
    console.error(`warning: ${path}: removed an incomplete last record (${t.bytes} bytes at offset ${t.offset}: ${t.reason}) left by an interrupted write; saved them to ${t.savedTo}`);
  }
  return pile;
}

/** Runs `fn` with an open pile, flushing on success and always closing it. */
export async function withPile<T>(path: string, fn: (pile: Pile) => T | Promise<T>, opts: { create?: boolean } = {}): Promise<T> {
  const pile = openPile(path, opts);
  try {
    const result = await fn(pile);
    pile.flush();
    return result;
  } finally {
    pile.close();
  }
}

/** The signing key: `--key`, then $TRIBLESPACE_KEY, then self.key beside the pile (or in the current directory). */
export function signingKey(opts: { key?: string; createKey?: boolean }, pilePath?: string): SigningKey {
  try {
    const loaded = loadKey({ ...(opts.key ? { path: opts.key } : {}), dir: pilePath ? dirname(resolve(pilePath)) : process.cwd(), create: opts.createKey ?? false });
    if (loaded.warning) console.error(`warning: ${loaded.warning}`);
    return loaded.key;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export function parseHash(hex: string, what = "hash"): Uint8Array {
  const clean = hex.trim().replace(/^blake3:/i, "");
  try {
    return fromHex(clean, 32);
  } catch {
    throw new CliError(`invalid ${what} "${hex}": expected 64 hex characters`);
  }
}

export function parseKeyHex(hex: string, what = "public key"): Uint8Array {
  try {
    return fromHex(hex.trim(), 32);
  } catch {
    throw new CliError(`invalid ${what} "${hex}": expected 64 hex characters`);
  }
}

export function parseBranchIdHex(hex: string): Uint8Array {
  try {
    return idFromHex(hex);
  } catch {
    throw new CliError(`invalid branch id "${hex}": expected 32 hex characters`);
  }
}

/** Prints data as JSON (with --json) or as text lines. */
export function output(json: boolean | undefined, data: unknown, text: () => string): void {
  if (json) console.log(JSON.stringify(data, null, 2));
  else {
    const t = text();
    if (t) console.log(t);
  }
}

export { toHex };

/** cac collects repeated options into arrays and single ones as scalars; this always gives an array. */
export function asList(value: unknown): string[] {
  if (value === undefined || value === null || value === false) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(",")).filter(Boolean);
}
