/**
 * Key files: 64 hex characters holding a 32-byte Ed25519 seed (FORMATS §9.4). Lookup order:
 * an explicit path, then `$TRIBLESPACE_KEY` (a path), then `<dir>/self.key`. A key file is created
 * (mode 0600, lower-case hex, no newline) only when the caller asks. A secret is never printed.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fromHex, toHex } from "../core/bytes.ts";
import { SigningKey } from "../core/ed25519.ts";

export interface KeyLookup {
  /** Explicit key file path (e.g. `--key`). */
  path?: string;
  /** Directory holding `self.key` when nothing else names a key (default: the current directory). */
  dir?: string;
  /** Create the key file if it does not exist. */
  create?: boolean;
}

/** Where the key is looked up, in order of precedence. */
export function resolveKeyPath(lookup: KeyLookup = {}): string {
  if (lookup.path) return resolve(lookup.path);
  const fromEnv = process.env.TRIBLESPACE_KEY;
  if (fromEnv) return resolve(fromEnv);
  return resolve(join(lookup.dir ?? process.cwd(), "self.key"));
}

/** Parses key-file text; throws an error naming the file if it is malformed. */
export function parseKeyFile(text: string, path: string): SigningKey {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error(`${path}: not a key file (expected 64 hex characters holding a 32-byte Ed25519 seed)`);
  }
  return SigningKey.fromSeed(fromHex(hex));
}

/** Loads the key (creating it when asked); returns the key and the file it came from. */
export function loadKey(lookup: KeyLookup = {}): { key: SigningKey; path: string; created: boolean } {
  const path = resolveKeyPath(lookup);
  if (!existsSync(path)) {
    if (!lookup.create) throw new Error(`no key file at ${path} (create one with \`tribles pile net identity --create\`)`);
    const key = SigningKey.generate();
    writeFileSync(path, toHex(key.seed()), { mode: 0o600, flag: "wx" });
    return { key, path, created: true };
  }
  if (statSync(path).size > 4096) throw new Error(`${path}: not a key file (too large)`);
  return { key: parseKeyFile(readFileSync(path, "utf8"), path), path, created: false };
}
