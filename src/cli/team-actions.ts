/** Actions of `tribles team …`, loaded only when one of them runs. */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CAP_ISSUER, CAP_SUBJECT, PERM_ADMIN, PERM_READ, PERM_WRITE, type Permission, SIG_SIGNS } from "../auth/attributes.ts";
import { collectRevocations, issueCapability, issueRevocation, RevocationSet, type VerifiedCapability, verifyChain } from "../auth/capability.ts";
import { decodeSimpleArchive } from "../core/archive.ts";
import { bytesEqual, fromHex, toHex } from "../core/bytes.ts";
import { SigningKey } from "../core/ed25519.ts";
import { METADATA_EXPIRES_AT } from "../core/metadata.ts";
import { intervalFromValue, nowTaiNs, taiNsFromUnixMs, unixMsFromTaiNs } from "../core/schemas.ts";
import type { Pile } from "../pile/pile.ts";
import { keyFileModeWarning, parseKeyFile } from "../repo/keyfile.ts";
import { Repository } from "../repo/repository.ts";
import { asList, output, parseBranchIdHex, parseHash, signingKey, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { capHandleOf, givenTeamRoot, requireTeamRoot, type TeamOptions } from "./team-context.ts";

/** Where `team create` saves the root secret (beside the pile) and where `team revoke` looks for it. */
const ROOT_KEY_FILE = "team-root.key";

const PERMS: Permission[] = ["read", "write", "admin"];

/** A peer's key given as 64 hex characters or as a libp2p PeerId (libp2p loads only in that case). */
async function parsePeerKey(value: string): Promise<Uint8Array> {
  const text = String(value); // cac turns an all-digit argument into a number
  if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text);
  try {
    const { peerIdFromString } = await import("@libp2p/peer-id");
    const id = peerIdFromString(text);
    if (id.type === "Ed25519") return id.publicKey.raw;
  } catch {}
  throw new CliError(`invalid peer key "${text}": give 64 hex characters or a PeerId (see \`tribles pile net identity\`)`);
}

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: DAY_MS / 24, d: DAY_MS, w: 7 * DAY_MS, y: 365 * DAY_MS };
/** The latest expiry we write or print as a date (the format could hold later ones; no ISO date shows them). */
const LATEST_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** Capabilities ending sooner than this are marked in `team list`. */
const SOON_MS = 7 * DAY_MS;

/**
 * `--expires`: a duration from now (90m, 12h, 30d, 2w, 1y = 365 days) or an ISO date (2027-06-30,
 * 2027-06-30T12:00Z); returns unix ms. Bare numbers are refused: "30" could mean any unit.
 */
export function parseExpires(value: unknown, nowMs = Date.now()): number {
  // String(): cac hands over `--expires 30` as a number and a repeated option as an array.
  const text = String(value).trim();
  const fail = (why: string) => new CliError(`--expires ${text}: ${why}`);
  let ms: number;
  const duration = /^(\d+)([smhdwy])$/.exec(text);
  if (duration) {
    const amount = Number(duration[1]);
    if (amount === 0) throw fail("must be longer than zero");
    ms = nowMs + amount * UNIT_MS[duration[2]!]!;
  } else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text)) {
    ms = Date.parse(text);
    // Date.parse may roll 2027-02-30 over into March; insist on a real calendar day.
    const [year, month, day] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
    const check = new Date(Date.UTC(year, month - 1, day));
    if (Number.isNaN(ms) || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) throw fail("not a calendar date");
    if (ms <= nowMs) throw fail("that is in the past");
  } else throw fail("expected a duration like 30d or a date like 2027-06-30");
  if (!(ms <= LATEST_EXPIRY_MS)) throw fail("ends after the year 9999");
  return ms;
}

/** An expiry (TAI ns) as an ISO date; one past year 9999 (possible in the format, e.g. from another tool) as text. */
function formatExpiry(ns: bigint): string {
  const ms = unixMsFromTaiNs(ns);
  if (ms > LATEST_EXPIRY_MS) return "after 9999-12-31";
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? "before -271821" : date.toISOString();
}

/** Roughly how far ahead `ms` is: "in 10 years", "in 4 days", "in 5 hours". */
function fromNow(ms: number): string {
  const left = ms - Date.now();
  const [n, unit] = left >= 365 * DAY_MS ? [left / (365 * DAY_MS), "year"] : left >= DAY_MS ? [left / DAY_MS, "day"] : left >= 3_600_000 ? [left / 3_600_000, "hour"] : [Math.max(0, left / 60_000), "minute"];
  const whole = Math.round(n as number);
  return `in ${whole} ${unit}${whole === 1 ? "" : "s"}`;
}

/** Reads a secret key file; other users being able to read it is worth a warning, not a refusal. */
function readRootKeyFile(path: string): SigningKey {
  if (!existsSync(path)) throw new CliError(`${path}: no such key file`);
  const stat = statSync(path);
  if (!stat.isFile() || stat.size > 4096) throw new CliError(`${path}: not a key file`);
  const warning = keyFileModeWarning(path, stat.mode);
  if (warning) console.error(`warning: ${warning}`);
  try {
    return parseKeyFile(readFileSync(path, "utf8"), path);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/**
 * The team root secret for revoking: `--root-key`, then $TRIBLE_TEAM_ROOT_SECRET, then the
 * team-root.key that `team create` wrote beside the pile, then one in the current directory.
 */
function rootKeyFor(opts: { rootKey?: string }, pilePath: string): { key: SigningKey; source: string } {
  if (opts.rootKey) {
    const path = resolve(opts.rootKey);
    return { key: readRootKeyFile(path), source: path };
  }
  const hex = process.env.TRIBLE_TEAM_ROOT_SECRET;
  if (hex) {
    try {
      return { key: parseKeyFile(hex, "$TRIBLE_TEAM_ROOT_SECRET"), source: "$TRIBLE_TEAM_ROOT_SECRET" };
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  for (const path of [join(dirname(resolve(pilePath)), ROOT_KEY_FILE), resolve(ROOT_KEY_FILE)]) {
    if (existsSync(path)) return { key: readRootKeyFile(path), source: path };
  }
  throw new CliError(`team revoke needs the team root secret: no ${ROOT_KEY_FILE} beside the pile or in the current directory; pass --root-key FILE or set $TRIBLE_TEAM_ROOT_SECRET`);
}

const permName = (p: Uint8Array) => (bytesEqual(p, PERM_READ) ? "read" : bytesEqual(p, PERM_WRITE) ? "write" : bytesEqual(p, PERM_ADMIN) ? "admin" : toHex(p));

export interface CapView {
  cap: string;
  subject: string;
  issuer: string;
  perms: string[];
  branches: string[];
  expires: string;
  status: string;
}

/** Every capability sig blob in the pile, verified against the team root. */
function listCaps(pile: Pile, teamRoot: Uint8Array): CapView[] {
  const reader = pile.reader();
  const revoked = collectRevocations(reader, [teamRoot], new RevocationSet());
  const out: CapView[] = [];
  for (const h of reader.list()) {
    // Sig blobs are exactly four tribles: others are skipped by their stored length, unread.
    if ((reader.sizeOf(h) ?? 256) !== 256) continue;
    let capView: CapView | undefined;
    try {
      // A damaged blob (it fails its hash check) is no capability to list.
      const bytes = reader.get(h);
      if (bytes?.length !== 256) continue;
      const signs = decodeSimpleArchive(bytes).find({ a: SIG_SIGNS });
      if (signs.length !== 1) continue;
      const capBytes = reader.get(signs[0]!.slice(32, 64));
      if (!capBytes) continue;
      capView = describeCap(h, capBytes, pile, teamRoot, revoked);
    } catch {}
    if (capView) out.push(capView);
  }
  return out;
}

function describeCap(sigHandle: Uint8Array, capBytes: Uint8Array, pile: Pile, teamRoot: Uint8Array, revoked: RevocationSet): CapView | undefined {
  const set = decodeSimpleArchive(capBytes);
  const subjects = set.find({ a: CAP_SUBJECT });
  if (subjects.length === 0) return undefined; // a revocation's sig blob, not a capability
  const subject = subjects[0]!.slice(32, 64);
  let status = "valid";
  let perms: string[] = [];
  let branches: string[] = [];
  const expiresValue = set.find({ a: METADATA_EXPIRES_AT })[0]?.slice(32, 64);
  // A valid capability ends when the first one in its chain does, whatever it says itself.
  let expiresAt = expiresValue ? intervalFromValue(expiresValue).upper : undefined;
  try {
    const cap = verifyChain(teamRoot, sigHandle, subject, revoked, pile.reader());
    perms = cap.perms.map(permName);
    branches = cap.branches.map(toHex);
    expiresAt = cap.expiresAt;
    const endMs = unixMsFromTaiNs(cap.expiresAt);
    if (endMs - Date.now() < SOON_MS) status = `valid (expires ${fromNow(endMs)})`;
  } catch (err) {
    status = (err as Error).message;
  }
  const issuer = set.find({ a: CAP_ISSUER })[0]?.slice(32, 64);
  const expires = expiresAt === undefined ? "?" : formatExpiry(expiresAt);
  return { cap: toHex(sigHandle), subject: toHex(subject), issuer: issuer ? toHex(issuer) : "?", perms, branches, expires, status };
}

export async function teamCreate(opts: { pile?: string; key?: string; rootKeyOut?: string; expires: unknown; json?: boolean }) {
  if (!opts.pile) throw new CliError("team create needs --pile PILE to store the capability");
  const me = signingKey(opts, opts.pile);
  const expiresMs = parseExpires(opts.expires);
  const root = SigningKey.generate();
  const out = resolve(opts.rootKeyOut ?? join(dirname(resolve(opts.pile)), ROOT_KEY_FILE));
  if (existsSync(out)) throw new CliError(`${out} already exists; choose another --root-key-out`);
  const upper = taiNsFromUnixMs(expiresMs);
  const cap = issueCapability({ issuer: root, subject: me.publicKey, perms: ["admin"], expires: { lower: nowTaiNs(), upper } });
  await withPile(opts.pile, (pile) => pile.putMany([cap.blob, cap.sigBlob]));
  writeFileSync(out, toHex(root.seed()), { mode: 0o600, flag: "wx" });
  const info = { teamRoot: toHex(root.publicKey), cap: toHex(cap.sigHandle), expires: formatExpiry(upper), rootKeyFile: out };
  output(opts.json, info, () =>
    [
      `team root    ${info.teamRoot}`,
      `your cap     ${info.cap}`,
      `expires      ${info.expires} (${fromNow(expiresMs)}; every capability issued under yours ends with it)`,
      `root secret  saved to ${out} (keep it safe; needed to revoke and to issue a new admin capability)`,
      "",
      "Use it with:",
      `  export TRIBLE_TEAM_ROOT=${info.teamRoot}`,
      `  export TRIBLE_TEAM_CAP=${info.cap}`,
    ].join("\n"),
  );
}

/** The capability we issue under: ours, verified for the team root, and admin (only admins invite). */
function adminCapability(opts: TeamOptions, me: SigningKey, teamRoot: Uint8Array, reader: ReturnType<Pile["reader"]>): { parent: { capBlob: Uint8Array; sigBlob: Uint8Array }; verified: VerifiedCapability } {
  const myCap = capHandleOf(opts);
  if (!myCap) throw new CliError('team invite needs your capability: pass --cap HEX or set $TRIBLE_TEAM_CAP (`tribles team create` printed it as "your cap")');
  let verified: VerifiedCapability;
  try {
    verified = verifyChain(teamRoot, myCap, me.publicKey, collectRevocations(reader, [teamRoot]), reader);
  } catch (err) {
    throw new CliError(`your capability does not verify against team root ${toHex(teamRoot)}: ${(err as Error).message}`);
  }
  if (!verified.grantsAdmin()) throw new CliError(`your capability grants ${verified.perms.map(permName).join(", ")}, not admin: only an admin can invite`);
  // verifyChain found both blobs in this reader.
  const sigBlob = reader.get(myCap)!;
  const capHandle = decodeSimpleArchive(sigBlob).find({ a: SIG_SIGNS })[0]!.slice(32, 64);
  return { parent: { capBlob: reader.get(capHandle)!, sigBlob }, verified };
}

/**
 * The branch id `--branch` names: 32 hex characters as given; else the local branch of that name;
 * else the one id its tracking branches share (a branch we only track so far). Capabilities name
 * ids, and ids are team-wide (a branch made from a remote one keeps its id), so the note says which
 * id is granted, and that same-named branches with other ids (created independently) are not.
 */
function grantedBranch(repo: Repository, given: string, notes: string[]): Uint8Array {
  if (/^[0-9a-fA-F]{32}$/.test(given)) return parseBranchIdHex(given);
  const local = repo.lookupBranch(given);
  const remoteIds = new Map<string, Uint8Array>();
  for (const b of repo.listBranches()) if (b.tracking && b.name === given) remoteIds.set(toHex(b.meta.tracking!.remoteBranch), b.meta.tracking!.remoteBranch);
  let id: Uint8Array;
  if (local) id = local.id;
  else if (remoteIds.size === 1) id = [...remoteIds.values()][0]!;
  else if (remoteIds.size > 1) throw new CliError(`--branch ${given}: peers have ${remoteIds.size} different branches named "${given}" (${[...remoteIds.keys()].join(", ")}); give the id to grant`);
  else throw new CliError(`--branch ${given}: no branch of that name here (see \`tribles pile branch list\`); give a branch id to grant one this pile does not hold`);
  remoteIds.delete(toHex(id));
  notes.push(`--branch ${given} grants branch ${toHex(id)}${local ? "" : " (tracked from a peer)"}`);
  if (remoteIds.size) notes.push(`peers also have a branch named "${given}" with another id (${[...remoteIds.keys()].join(", ")}), created independently: this capability does not cover it`);
  return id;
}

/** What `invite` grants when --expires is not given (as the reference does). */
const DEFAULT_INVITE_MS = 30 * DAY_MS;

export async function teamInvite(peerKey: string, opts: TeamOptions & { pile?: string; perm: string; branch?: string | string[]; expires?: unknown; key?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team invite needs --pile PILE");
  const perm = opts.perm as Permission;
  if (!PERMS.includes(perm)) throw new CliError(`--perm must be one of ${PERMS.join(", ")}`);
  const subject = await parsePeerKey(peerKey);
  const teamRoot = requireTeamRoot(opts, "team invite");
  const me = signingKey(opts, opts.pile);
  const asked = opts.expires === undefined ? undefined : parseExpires(opts.expires);
  let upper = taiNsFromUnixMs(asked ?? Date.now() + DEFAULT_INVITE_MS);
  let clamped = false;
  const notes: string[] = [];
  const { sigHandle, branches } = await withPile(opts.pile, (pile) => {
    const reader = pile.reader();
    const repo = new Repository(pile);
    const branches = asList(opts.branch).map((b) => grantedBranch(repo, String(b), notes));
    // The team root's own key issues directly; everyone else delegates from their admin capability.
    const issuer = bytesEqual(me.publicKey, teamRoot) ? undefined : adminCapability(opts, me, teamRoot, reader);
    // A child outliving its parent would be listed as valid after it has stopped verifying.
    if (issuer && upper > issuer.verified.expiresAt) {
      if (asked !== undefined) throw new CliError(`--expires ${String(opts.expires)} would outlive your capability, which expires ${formatExpiry(issuer.verified.expiresAt)}: a capability cannot outlive its parent`);
      upper = issuer.verified.expiresAt;
      clamped = true;
    }
    const cap = issueCapability({ issuer: me, subject, perms: [perm], branches, expires: { lower: nowTaiNs(), upper }, ...(issuer ? { parent: issuer.parent } : {}) });
    pile.putMany([cap.blob, cap.sigBlob]);
    return { sigHandle: cap.sigHandle, branches };
  });
  const expires = formatExpiry(upper);
  for (const note of notes) console.error(`note: ${note}`);
  if (clamped) console.error(`note: the new capability expires ${expires}, with yours (a capability cannot outlive its parent)`);
  output(opts.json, { cap: toHex(sigHandle), subject: toHex(subject), perm, branches: branches.map(toHex), expires }, () => toHex(sigHandle));
}

export async function teamRevoke(peerKey: string, opts: TeamOptions & { pile?: string; rootKey?: string }) {
  if (!opts.pile) throw new CliError("team revoke needs --pile PILE");
  const target = await parsePeerKey(peerKey);
  const { key: root, source } = rootKeyFor(opts, opts.pile);
  // A revocation signed by another team's root would be stored and silently ignored.
  const expected = givenTeamRoot(opts);
  if (expected && !bytesEqual(expected, root.publicKey)) throw new CliError(`${source} holds the secret of team root ${toHex(root.publicKey)}, not of ${toHex(expected)}`);
  const rev = issueRevocation(root, target);
  await withPile(opts.pile, (pile) => pile.putMany([rev.blob, rev.sigBlob]));
  console.log(`revoked ${toHex(target)} (revocation ${toHex(rev.sigHandle)}; signed with ${source})`);
  console.log("a sync running on this pile cuts the key off within a second and hands the revocation to every member; otherwise the next sync does");
}

export async function teamList(opts: TeamOptions & { pile?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team list needs --pile PILE");
  const root = requireTeamRoot(opts, "team list");
  const caps = await withPile(opts.pile, (pile) => listCaps(pile, root));
  output(opts.json, caps, () => caps.map((c) => `${c.cap}  subject ${c.subject.slice(0, 16)}…  ${c.perms.join(",") || "-"}${c.branches.length ? ` on ${c.branches.length} branches` : ""}  until ${c.expires}  ${c.status}`).join("\n") || "no capabilities");
}

/** The capability whose sig blob is `sigHandle`, verified against `root` (status says whether it is valid). */
export function describeCapability(pile: Pile, sigHandle: Uint8Array, root: Uint8Array, pilePath: string): CapView | undefined {
  const reader = pile.reader();
  const sig = reader.get(sigHandle);
  if (!sig) throw new CliError(`capability ${toHex(sigHandle)} is not in ${pilePath}`);
  const capBytes = reader.get(decodeSimpleArchive(sig).find({ a: SIG_SIGNS })[0]?.slice(32, 64) ?? new Uint8Array(32));
  if (!capBytes) throw new CliError(`the capability blob signed by ${toHex(sigHandle)} is missing`);
  return describeCap(sigHandle, capBytes, pile, root, collectRevocations(reader, [root]));
}

export async function teamShow(capHex: string, opts: TeamOptions & { pile?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team show needs --pile PILE");
  const sigHandle = parseHash(String(capHex), "capability handle");
  const root = requireTeamRoot(opts, "team show");
  const view = await withPile(opts.pile, (pile) => {
    return describeCapability(pile, sigHandle, root, opts.pile!);
  });
  if (!view) throw new CliError(`${capHex} is not a capability`);
  output(opts.json, view, () => Object.entries(view).map(([k, v]) => `${k.padEnd(9)} ${Array.isArray(v) ? v.join(", ") || "-" : v}`).join("\n"));
}

