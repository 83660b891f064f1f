/** Actions of `tribles team …`, loaded only when one of them runs. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CAP_ISSUER, CAP_SUBJECT, PERM_ADMIN, PERMISSION_TAGS, PERM_READ, PERM_WRITE, type Permission, SIG_SIGNS } from "../auth/attributes.ts";
import { DAY_NS, issueCapability, mayDelegate, issueRevocation, RevocationSet, collectRevocations, verifyChain } from "../auth/capability.ts";
import { decodeSimpleArchive } from "../core/archive.ts";
import { bytesEqual, fromHex, toHex } from "../core/bytes.ts";
import { SigningKey } from "../core/ed25519.ts";
import { METADATA_EXPIRES_AT } from "../core/metadata.ts";
import { intervalFromValue, nowTaiNs, unixMsFromTaiNs } from "../core/schemas.ts";
import type { Pile } from "../pile/pile.ts";
import { parseKeyFile } from "../repo/keyfile.ts";
import { Repository } from "../repo/repository.ts";
import { asList, output, parseBranchIdHex, parseHash, signingKey, withPile } from "./common.ts";
import { CliError } from "./errors.ts";
import { capHandleOf, type TeamOptions, teamRootOf } from "./team-context.ts";

const PERMS: Permission[] = ["read", "write", "admin"];

/** A peer's key given as 64 hex characters or as a libp2p PeerId (libp2p loads only in that case). */
async function parsePeerKey(text: string): Promise<Uint8Array> {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text);
  try {
    const { peerIdFromString } = await import("@libp2p/peer-id");
    const id = peerIdFromString(text);
    if (id.type === "Ed25519") return id.publicKey.raw;
  } catch {}
  throw new CliError(`invalid peer key "${text}": give 64 hex characters or a PeerId (see \`tribles pile net identity\`)`);
}

/** Parses "30d", "12h", "90m" into nanoseconds. */
function parseDuration(text: string): bigint {
  const m = /^(\d+)([dhm])$/.exec(text.trim());
  if (!m) throw new CliError(`invalid duration "${text}": use e.g. 30d, 12h or 90m`);
  const unit = m[2] === "d" ? DAY_NS : m[2] === "h" ? DAY_NS / 24n : DAY_NS / 1440n;
  return BigInt(m[1]!) * unit;
}

function rootKeyFrom(opts: { rootKey?: string }): SigningKey {
  if (opts.rootKey) {
    if (!existsSync(opts.rootKey)) throw new CliError(`${opts.rootKey}: no such key file`);
    try {
      return parseKeyFile(readFileSync(opts.rootKey, "utf8"), opts.rootKey);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  const hex = process.env.TRIBLE_TEAM_ROOT_SECRET;
  if (!hex) throw new CliError("revoking needs the team root secret: --root-key FILE or $TRIBLE_TEAM_ROOT_SECRET");
  return parseKeyFile(hex, "$TRIBLE_TEAM_ROOT_SECRET");
}

interface CapView {
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
    const bytes = reader.get(h);
    if (bytes?.length !== 256) continue; // sig blobs are exactly four tribles
    let capView: CapView | undefined;
    try {
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
  try {
    const cap = verifyChain(teamRoot, sigHandle, subject, revoked, pile.reader());
    perms = cap.perms.map((p) => (bytesEqual(p, PERM_READ) ? "read" : bytesEqual(p, PERM_WRITE) ? "write" : bytesEqual(p, PERM_ADMIN) ? "admin" : toHex(p)));
    branches = cap.branches.map(toHex);
  } catch (err) {
    status = (err as Error).message;
  }
  const issuer = set.find({ a: CAP_ISSUER })[0]?.slice(32, 64);
  const expiresValue = set.find({ a: METADATA_EXPIRES_AT })[0]?.slice(32, 64);
  const expires = expiresValue ? new Date(unixMsFromTaiNs(intervalFromValue(expiresValue).upper)).toISOString() : "?";
  return { cap: toHex(sigHandle), subject: toHex(subject), issuer: issuer ? toHex(issuer) : "?", perms, branches, expires, status };
}

export async function teamCreate(opts: { pile?: string; key?: string; rootKeyOut?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team create needs --pile PILE to store the capability");
  const me = signingKey(opts, opts.pile);
  const root = SigningKey.generate();
  const out = resolve(opts.rootKeyOut ?? join(dirname(resolve(opts.pile)), "team-root.key"));
  if (existsSync(out)) throw new CliError(`${out} already exists; choose another --root-key-out`);
  const cap = issueCapability({ issuer: root, subject: me.publicKey, perms: ["admin"] });
  await withPile(opts.pile, (pile) => pile.putMany([cap.blob, cap.sigBlob]));
  writeFileSync(out, toHex(root.seed()), { mode: 0o600, flag: "wx" });
  const info = { teamRoot: toHex(root.publicKey), cap: toHex(cap.sigHandle), rootKeyFile: out };
  output(opts.json, info, () =>
    [
      `team root    ${info.teamRoot}`,
      `your cap     ${info.cap}`,
      `root secret  saved to ${out} (keep it safe; needed to revoke)`,
      "",
      "Use it with:",
      `  export TRIBLE_TEAM_ROOT=${info.teamRoot}`,
      `  export TRIBLE_TEAM_CAP=${info.cap}`,
    ].join("\n"),
  );
}

export async function teamInvite(peerKey: string, opts: TeamOptions & { pile?: string; perm: string; branch?: string | string[]; expires: string; key?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team invite needs --pile PILE");
  const perm = opts.perm as Permission;
  if (!PERMS.includes(perm)) throw new CliError(`--perm must be one of ${PERMS.join(", ")}`);
  const subject = await parsePeerKey(peerKey);
  const me = signingKey(opts, opts.pile);
  const teamRoot = teamRootOf(opts, me);
  const ttl = parseDuration(opts.expires);
  const sigHandle = await withPile(opts.pile, (pile) => {
    const reader = pile.reader();
    const repo = new Repository(pile);
    const branches = asList(opts.branch).map((b) => (/^[0-9a-fA-F]{32}$/.test(b) ? parseBranchIdHex(b) : repo.requireBranch(b).id));
    let parent: { capBlob: Uint8Array; sigBlob: Uint8Array } | undefined;
    if (!bytesEqual(me.publicKey, teamRoot)) {
      const myCap = capHandleOf(opts);
      if (!myCap) throw new CliError("you are not the team root: give your own capability with --cap or $TRIBLE_TEAM_CAP");
      // Only a capability that verifies for us may be delegated.
      let mine: ReturnType<typeof verifyChain>;
      try {
        mine = verifyChain(teamRoot, myCap, me.publicKey, collectRevocations(reader, [teamRoot]), reader);
      } catch (err) {
        throw new CliError(`your capability does not verify: ${(err as Error).message}`);
      }
      if (!mayDelegate(mine, [PERMISSION_TAGS[perm]], branches)) {
        throw new CliError(`your capability does not cover --perm ${perm}${branches.length ? " on those branches" : ""}; you can only grant what you hold`);
      }
      const sigBlob = reader.get(myCap)!;
      const capHandle = decodeSimpleArchive(sigBlob).find({ a: SIG_SIGNS })[0]!.slice(32, 64);
      parent = { capBlob: reader.get(capHandle)!, sigBlob };
    }
    const now = nowTaiNs();
    const cap = issueCapability({ issuer: me, subject, perms: [perm], branches, expires: { lower: now, upper: now + ttl }, ...(parent ? { parent } : {}) });
    pile.putMany([cap.blob, cap.sigBlob]);
    return cap.sigHandle;
  });
  output(opts.json, { cap: toHex(sigHandle), subject: toHex(subject), perm }, () => toHex(sigHandle));
}

export async function teamRevoke(peerKey: string, opts: { pile?: string; rootKey?: string }) {
  if (!opts.pile) throw new CliError("team revoke needs --pile PILE");
  const target = await parsePeerKey(peerKey);
  const root = rootKeyFrom(opts);
  const rev = issueRevocation(root, target);
  await withPile(opts.pile, (pile) => pile.putMany([rev.blob, rev.sigBlob]));
  console.log(`revoked ${toHex(target)} (revocation ${toHex(rev.sigHandle)})`);
}

export async function teamList(opts: TeamOptions & { pile?: string; key?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team list needs --pile PILE");
  const root = teamRootOf(opts, signingKey(opts, opts.pile));
  const caps = await withPile(opts.pile, (pile) => listCaps(pile, root));
  output(opts.json, caps, () => caps.map((c) => `${c.cap}  subject ${c.subject.slice(0, 16)}…  ${c.perms.join(",") || "-"}${c.branches.length ? ` on ${c.branches.length} branches` : ""}  until ${c.expires}  ${c.status}`).join("\n") || "no capabilities");
}

export async function teamShow(capHex: string, opts: TeamOptions & { pile?: string; key?: string; json?: boolean }) {
  if (!opts.pile) throw new CliError("team show needs --pile PILE");
  const sigHandle = parseHash(capHex, "capability handle");
  const root = teamRootOf(opts, signingKey(opts, opts.pile));
  const view = await withPile(opts.pile, (pile) => {
    const reader = pile.reader();
    const sig = reader.get(sigHandle);
    if (!sig) throw new CliError(`capability ${capHex} is not in ${opts.pile}`);
    const capBytes = reader.get(decodeSimpleArchive(sig).find({ a: SIG_SIGNS })[0]?.slice(32, 64) ?? new Uint8Array(32));
    if (!capBytes) throw new CliError(`the capability blob signed by ${capHex} is missing`);
    return describeCap(sigHandle, capBytes, pile, root, collectRevocations(reader, [root]));
  });
  if (!view) throw new CliError(`${capHex} is not a capability`);
  output(opts.json, view, () => Object.entries(view).map(([k, v]) => `${k.padEnd(9)} ${Array.isArray(v) ? v.join(", ") || "-" : v}`).join("\n"));
}

