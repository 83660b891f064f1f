/**
 * Sets up a team in a directory: a key file and an empty pile per member, a team root, and a
 * capability for each member stored in that member's pile. The first member founds the team
 * (admin); the others get write, except those listed after --readers (read only).
 *
 *   bun examples/make-team.ts DIR alice bob [--readers carol]
 *
 * Prints JSON: { teamRoot, members: { NAME: { pile, key, publicKey, capability } } }.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTeam, inviteMember, loadKey, Pile, type SignedBlob, toHex } from "tribles";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { readers: { type: "string", multiple: true } } });
const [dir, founder, ...writers] = positionals;
if (!dir || !founder) throw new Error("usage: make-team.ts DIR FOUNDER [MEMBER…] [--readers NAME…]");
const readers = values.readers ?? [];

const keys = new Map([founder, ...writers, ...readers].map((name) => [name, loadKey({ path: join(dir, `${name}.key`), create: true }).key]));
const team = createTeam(keys.get(founder)!.publicKey);
const caps = new Map<string, SignedBlob>([[founder, team.capability]]);
for (const name of [...writers, ...readers]) {
  caps.set(name, inviteMember({ issuer: keys.get(founder)!, issuerCapability: team.capability, member: keys.get(name)!.publicKey, perms: readers.includes(name) ? ["read"] : ["write"] }));
}

const members: Record<string, unknown> = {};
for (const [name, key] of keys) {
  const cap = caps.get(name)!;
  const pile = Pile.open(join(dir, `${name}.pile`));
  // The member presents its chain: its own capability and the founder's it was issued under.
  pile.putMany([team.capability.blob, team.capability.sigBlob, cap.blob, cap.sigBlob]);
  pile.close();
  members[name] = { pile: join(dir, `${name}.pile`), key: join(dir, `${name}.key`), publicKey: toHex(key.publicKey), capability: toHex(cap.sigHandle) };
}
console.log(JSON.stringify({ teamRoot: toHex(team.teamRoot), members }));
