/**
 * `tribles pile net identity`: which key and PeerId a pile's commands use. Apart from the other
 * net commands so that it loads the key file and PeerId modules only, not libp2p (tests and
 * scripts call it often).
 */
import { dirname, resolve } from "node:path";
import { toHex } from "../core/bytes.ts";
import { peerIdFromKey } from "../net/peer-key.ts";
import { loadKey } from "../repo/keyfile.ts";
import { CliError } from "./errors.ts";

export interface IdentityOptions {
  key?: string;
  pile?: string;
  create?: boolean;
  json?: boolean;
}

/**
 * The key is found as every other command finds it (--key, then $TRIBLESPACE_KEY, then self.key
 * beside the pile), so the public key shown is the one sync and commit sign with; with no pile,
 * self.key in the current directory.
 */
export async function runIdentity(pilePath: string | undefined, opts: IdentityOptions): Promise<void> {
  if (pilePath && opts.pile && resolve(pilePath) !== resolve(opts.pile)) throw new CliError(`two piles given: ${pilePath} and --pile ${opts.pile}`);
  const pile = pilePath ?? opts.pile;
  let loaded: ReturnType<typeof loadKey>;
  try {
    loaded = loadKey({ ...(opts.key ? { path: opts.key } : {}), dir: pile ? dirname(resolve(pile)) : process.cwd(), create: opts.create ?? false });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (loaded.warning) console.error(`warning: ${loaded.warning}`);
  const info = { peerId: peerIdFromKey(loaded.key.publicKey).toString(), publicKey: toHex(loaded.key.publicKey), keyFile: loaded.path, created: loaded.created };
  if (opts.json) {
    console.log(JSON.stringify(info));
    return;
  }
  const state = loaded.created ? " (created)" : opts.create ? " (already existed, kept)" : "";
  console.log(`key file    ${info.keyFile}${state}\npeer id     ${info.peerId}\npublic key  ${info.publicKey}`);
}
