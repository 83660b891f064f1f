/** Key files: format, lookup order, creation on request only, clear errors that never show a secret. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { toHex } from "../../src/core/bytes.ts";
import { SigningKey } from "../../src/core/ed25519.ts";
import { KEY_ENV, KeyFileError, loadKey, parseKeyFile, resolveKeyPath } from "../../src/repo/keyfile.ts";
import { tempDir } from "../pile/helpers.ts";

const SEED7 = "07".repeat(32);
const PUB7 = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

let tmp: ReturnType<typeof tempDir>;
let savedEnv: string | undefined;
beforeEach(() => {
  tmp = tempDir("tribles-key-");
  savedEnv = process.env[KEY_ENV];
  delete process.env[KEY_ENV];
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env[KEY_ENV];
  else process.env[KEY_ENV] = savedEnv;
  tmp.cleanup();
});

describe("key files", () => {
  test("a key file others may read or write loads with a warning; a private one without", () => {
    const path = tmp.path("k.key");
    writeFileSync(path, SEED7, { mode: 0o600 });
    expect(loadKey({ path }).warning).toBeUndefined();
    chmodSync(path, 0o644);
    expect(loadKey({ path }).warning).toBe(`${path} is readable by others (mode 0644); chmod 600 it`);
    chmodSync(path, 0o620);
    expect(loadKey({ path }).warning).toContain("writable by others (mode 0620)");
  }, 5_000);

  test("64 hex characters, any case, surrounding whitespace accepted", () => {
    expect(toHex(parseKeyFile(SEED7, "k").publicKey)).toBe(PUB7);
    expect(toHex(parseKeyFile(`  ${SEED7.toUpperCase()}\n`, "k").publicKey)).toBe(PUB7);
  }, 5_000);

  test("malformed files are errors naming the file, without echoing its content", () => {
    const secretish = "ab".repeat(31) + "zz";
    for (const text of ["", "abc", secretish, `${SEED7}00`, `${SEED7.slice(0, 32)} ${SEED7.slice(32)}`]) {
      try {
        parseKeyFile(text, "/keys/broken.key");
        throw new Error("should have failed");
      } catch (err) {
        expect(err).toBeInstanceOf(KeyFileError);
        expect((err as Error).message).toContain("/keys/broken.key");
        if (text.length > 8) expect((err as Error).message).not.toContain(text.slice(0, 16));
      }
    }
    mkdirSync(tmp.path("a-dir"));
    expect(() => loadKey({ path: tmp.path("a-dir") })).toThrow("not a regular file");
  }, 5_000);

  test("lookup order: explicit path, then $TRIBLESPACE_KEY, then self.key in the given directory", () => {
    writeFileSync(tmp.path("explicit.key"), SEED7);
    writeFileSync(tmp.path("env.key"), "11".repeat(32));
    writeFileSync(tmp.path("self.key"), "22".repeat(32));
    expect(resolveKeyPath({ dir: tmp.dir })).toBe(tmp.path("self.key"));
    expect(toHex(loadKey({ dir: tmp.dir }).key.seed())).toBe("22".repeat(32));
    process.env[KEY_ENV] = tmp.path("env.key");
    expect(toHex(loadKey({ dir: tmp.dir }).key.seed())).toBe("11".repeat(32));
    const explicit = loadKey({ path: tmp.path("explicit.key"), dir: tmp.dir });
    expect(explicit.path).toBe(tmp.path("explicit.key"));
    expect(toHex(explicit.key.publicKey)).toBe(PUB7);
    delete process.env[KEY_ENV];
    const cwd = process.cwd();
    try {
      process.chdir(tmp.dir);
      expect(resolveKeyPath()).toBe(tmp.path("self.key"));
    } finally {
      process.chdir(cwd);
    }
  }, 5_000);

  test("created only on request: mode 0600, lower-case hex, no newline; never overwritten", () => {
    expect(() => loadKey({ dir: tmp.dir })).toThrow(`no key file at ${tmp.path("self.key")}`);
    expect(() => loadKey({ dir: tmp.dir, missingHint: "use --create-key" })).toThrow("use --create-key");
    const made = loadKey({ dir: tmp.dir, create: true });
    expect(made.created).toBe(true);
    const text = readFileSync(made.path, "utf8");
    expect(text).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(made.path).mode & 0o777).toBe(0o600);
    const again = loadKey({ dir: tmp.dir, create: true });
    expect(again.created).toBe(false);
    expect(again.key.publicKey).toEqual(made.key.publicKey);
    expect(SigningKey.fromSeed(again.key.seed()).publicKey).toEqual(made.key.publicKey);
  }, 5_000);
});
