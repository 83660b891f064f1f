/** Team context for commands that sync or issue capabilities: team root and own capability. */
import { toHex } from "../core/bytes.ts";
import type { SigningKey } from "../core/ed25519.ts";
import { parseHash, parseKeyHex } from "./common.ts";
import { CliError } from "./errors.ts";

export interface TeamOptions {
  teamRoot?: string;
  cap?: string;
}

/** Team root: `--team-root`, then $TRIBLE_TEAM_ROOT, else our own key (a team of one). */
export function teamRootOf(opts: TeamOptions, key: SigningKey): Uint8Array {
  return givenTeamRoot(opts) ?? key.publicKey;
}

/** `--team-root`, then $TRIBLE_TEAM_ROOT; undefined if neither is set. */
export function givenTeamRoot(opts: TeamOptions): Uint8Array | undefined {
  const hex = opts.teamRoot ?? process.env.TRIBLE_TEAM_ROOT;
  // String(): cac turns an all-digit value into a number.
  return hex ? parseKeyHex(String(hex), "team root") : undefined;
}

/**
 * The team root for `team` commands, which must not fall back to our own key: a capability issued
 * or checked under the wrong root is useless. Nothing in a pile says which root is the trusted one
 * (any chain ends at some key that signed it), so it has to be given.
 */
export function requireTeamRoot(opts: TeamOptions, command: string): Uint8Array {
  const root = givenTeamRoot(opts);
  if (!root) throw new CliError(`${command} needs the team root: pass --team-root HEX or set $TRIBLE_TEAM_ROOT (\`tribles team create\` printed it as "team root")`);
  return root;
}

/** Our capability (leaf sig-blob handle): `--cap`, then $TRIBLE_TEAM_CAP; null if none. */
export function capHandleOf(opts: TeamOptions): Uint8Array | null {
  const hex = opts.cap ?? process.env.TRIBLE_TEAM_CAP;
  return hex ? parseHash(String(hex), "capability handle") : null;
}

export const describeKey = (k: Uint8Array) => toHex(k);
