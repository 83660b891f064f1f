/**
 * Key files (FORMATS §9.4): 64 hex characters holding a 32-byte Ed25519 seed; surrounding
 * whitespace is accepted. Lookup order: an explicit path, then `$TRIBLESPACE_KEY` (a path), then
 * `<dir>/self.key` (`dir` defaults to the current directory). A key file is created — mode 0600,
 * lower-case hex, no newline — only when the caller asks. Errors name the file, never its content.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fromHex, toHex } from "../core/bytes.ts";
import { SigningKey } from "../core/ed25519.ts";

export const KEY_FILE_NAME = "self.key";
export const KEY_ENV = "TRIBLESPACE_KEY";

/** Where `loadKey` looks for a key file: `path`, else $TRIBLESPACE_KEY, else `dir`/self.key. */
export interface KeyLookup {
  /** Explicit key file path (e.g. `--key`). */
  path?: string;
  /** Directory holding `self.key` when nothing else names a key (default: the current directory). */
  dir?: string;
  /** Create the key file if it does not exist. */
  create?: boolean;
  /** Appended to the "no key file" error, to say how to create one in the caller's terms. */
  missingHint?: string;
}

export class KeyFileError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "KeyFileError";
  }
}

/** Where the key is looked up, in order of precedence. */
export function resolveKeyPath(lookup: KeyLookup = {}): string {
  if (lookup.path) return resolve(lookup.path);
  const fromEnv = process.env[KEY_ENV];
  if (fromEnv) return resolve(fromEnv);
  return resolve(join(lookup.dir ?? process.cwd(), KEY_FILE_NAME));
}

/** Parses key-file text; a malformed file is an error naming `path` (the text is never echoed). */
export function parseKeyFile(text: string, path: string): SigningKey {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new KeyFileError(`${path}: not a key file (expected 64 hex characters holding a 32-byte Ed25519 seed)`, path);
  }
  return SigningKey.fromSeed(fromHex(hex));
}

/** The key-file text for a key: its seed as lower-case hex, no newline. */
export function keyFileText(key: SigningKey): string {
  return toHex(key.seed());
}

/**
 * A warning when other users may read or write a secret key file (`mode` from stat), else null. It
 * is a warning, not a refusal: a copied key with loose permissions should not lock its owner out.
 */
export function keyFileModeWarning(path: string, mode: number): string | null {
  if (process.platform === "win32" || (mode & 0o066) === 0) return null;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  return `${path} is ${mode & 0o044 ? "readable" : "writable"} by others (mode ${octal}); chmod 600 it`;
}

/** Loads the key (creating it when asked); returns the key, the file it came from, and a permissions warning if any. */
export function loadKey(lookup: KeyLookup = {}): { key: SigningKey; path: string; created: boolean; warning?: string } {
  const path = resolveKeyPath(lookup);
  if (!existsSync(path)) {
    if (!lookup.create) {
      const hint = lookup.missingHint ?? `create one with \`tribles pile net identity <pile> --create\` (it goes beside the pile), or name one with --key FILE or $${KEY_ENV}`;
      throw new KeyFileError(`no key file at ${path} (${hint})`, path);
    }
    const key = SigningKey.generate();
    // "wx" refuses to overwrite a file that appeared meanwhile; 0600 keeps the seed private.
    writeFileSync(path, keyFileText(key), { mode: 0o600, flag: "wx" });
    return { key, path, created: true };
  }
  const stat = statSync(path);
  if (!stat.isFile()) throw new KeyFileError(`${path}: not a key file (not a regular file)`, path);
  if (stat.size > 4096) throw new KeyFileError(`${path}: not a key file (too large)`, path);
  const key = parseKeyFile(readFileSync(path, "utf8"), path);
  const warning = keyFileModeWarning(path, stat.mode);
  return { key, path, created: false, ...(warning ? { warning } : {}) };
}
