/**
 * `tribles/auth`: teams and capabilities. {@link createTeam} makes a team root and a founder's
 * capability, {@link inviteMember} and {@link issueCapability} grant access, {@link issueRevocation}
 * withdraws it, and {@link TeamPolicy} decides what a store admits from the team.
 *
 * @module tribles/auth
 */

export type { Permission } from "./attributes.ts";
export { type IssueOptions, issueCapability, issueRevocation, type SignedBlob } from "./capability.ts";
export { TeamPolicy } from "./policy.ts";
export { describeRefusal, type Refusal, type RefusalKind } from "./refusal.ts";
export { createTeam, type InviteOptions, inviteMember, type NewTeam } from "./team.ts";
